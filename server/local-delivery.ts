/**
 * Local delivery: the topic registry that fans messages out to this instance's subscribers, wired to
 * flow control, where a slow consumer's frames wait and its topic's policy applies (drop, or close
 * with 4008). A slow connection leaves its native channels (Bun) until it catches up.
 * @module
 */
import type { AnyTopic } from "../shared/contract.ts";
import type { Connection } from "./connection.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { FlowControl } from "./flow-control.ts";
import type { RoomRegistry } from "./rooms.ts";
import { TopicRegistry } from "./topics.ts";

/** What local delivery needs from the service. */
export interface DeliveryParts {
  /** Characters a socket may have buffered before the slow-consumer policy applies. */
  maxBufferedBytes: number;
  /** The slow-consumer policy of each topic, by path. */
  topics: ReadonlyMap<string, { def: AnyTopic }>;
  rooms: RoomRegistry;
  metrics: Metrics;
  logger: Logger;
  /** Live connections by id (for the registry's exclusions). */
  connections: ReadonlyMap<string, Connection>;
  /** Releases a connection closed for being slow (the service's `closed`). */
  release(conn: Connection, reason: string): void;
}

/** The registry and the flow control of one service. */
export interface LocalDelivery {
  /** Subscribers by channel, and the fan-out to them. */
  registry: TopicRegistry;
  /** Backpressure of every connection. */
  flow: FlowControl;
}

/** Creates the local delivery of a service. */
export function createLocalDelivery(parts: DeliveryParts): LocalDelivery {
  const { topics, metrics, connections } = parts;
  const flow = new FlowControl(parts.maxBufferedBytes, (topic) => topics.get(topic)?.def.slowConsumer ?? "disconnect", {
    dropped: (_conn, topic, count) => metrics.drop(topic, count),
    disconnected: (conn, reason) => {
      parts.logger.info("slow consumer disconnected", { connection: conn.id, ip: conn.ip, reason });
      // Released at once: the close frame waits behind unread data, so the close event may come late or never.
      parts.release(conn, reason);
    },
    changed: (conn, slow) => {
      for (const [channel, sub] of conn.subscriptions) {
        if (sub.held !== null) continue;
        if (slow) conn.socket.unsubscribe?.(channel);
        else conn.socket.subscribe?.(channel);
      }
      // Its rooms' native channels too (room-channels.ts).
      registry.nativeChanged(conn, !slow);
    },
  });
  const registry = new TopicRegistry(parts.rooms, (conn, frame, topic, channel, volatile) => {
    if (volatile !== true) flow.send(conn, frame, topic, channel);
    else if (!flow.offer(conn, frame)) (metrics.dropVolatile(topic), metrics.delivered--); // counted as delivered by the caller
  });
  registry.slow = flow.slow;
  registry.onBackpressure = (conn) => flow.check(conn);
  registry.connectionOf = (id) => connections.get(id);
  return { registry, flow };
}
