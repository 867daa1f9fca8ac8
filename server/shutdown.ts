/**
 * The service's graceful shutdown (SIGTERM, `service.close()`): in-flight calls get the grace period,
 * every socket drains and closes with 1001 and a retry hint, the clients' close frames are awaited,
 * then the timers and the broker stop.
 * @module
 */
import { CloseCode } from "../shared/protocol.ts";
import type { Broker } from "./broker/broker.ts";
import type { Connection } from "./connection.ts";
import type { Heartbeat } from "./heartbeat.ts";
import type { FlowControl } from "./flow-control.ts";
import type { PresenceTracker } from "./presence.ts";

/** Milliseconds `close()` waits for close handshakes at least, even when in-flight calls used the whole grace period (never more than `shutdownGrace`). */
export const CLOSE_HANDSHAKE_WAIT = 1000;

/** What a shutdown works on: the service's live connections and the parts it stops. */
export interface ShutdownParts<A> {
  /** Live connections by id; a connection leaves the map when its close is reported. */
  connections: ReadonlyMap<string, Connection<A>>;
  /** `shutdownGrace`: milliseconds in-flight calls may take to finish. */
  grace: number;
  heartbeat: Heartbeat<A>;
  presence: PresenceTracker;
  flow: FlowControl;
  broker: Broker;
}

/** Runs the shutdown sequence; new connections must already be refused. Settles once the broker is closed. */
export async function shutDown<A>(parts: ShutdownParts<A>, retryAfterMs: number): Promise<void> {
  const { connections, grace, heartbeat, presence, flow, broker } = parts;
  const inflight = () => [...connections.values()].some((conn) => conn.inflight.size > 0);
  // Calls settle through several paths (result, error, timeout, cancel): a short poll, bounded by the grace period.
  const deadline = Date.now() + grace;
  while (inflight() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  heartbeat.stop();
  presence.flush();
  // Each socket first stops reading and writing, so that what it has buffered drains; then its close
  // frame goes out behind nothing. Bun closes TCP right after the close frame and the process exits
  // soon after: a close frame still in the runtime's buffer then is lost (the client sees TCP end).
  const closeDeadline = Math.max(deadline, Date.now() + Math.min(grace, CLOSE_HANDSHAKE_WAIT));
  const closing = [...connections.values()];
  for (const conn of closing) {
    flow.flush(conn as Connection);
    conn.quiesce();
  }
  while (closing.some((c) => connections.has(c.id) && c.socket.bufferedAmount() > 0) && Date.now() < closeDeadline) await new Promise((r) => setTimeout(r, 5));
  for (const conn of closing) conn.close(CloseCode.GOING_AWAY, `retry=${retryAfterMs}`);
  // Then wait for each client's answering close frame (Deno's close event; Bun reports it at once):
  // stopping the runtime sooner resets sockets still receiving.
  while (connections.size > 0 && Date.now() < closeDeadline) await new Promise((r) => setTimeout(r, 5));
  flow.stop();
  presence.stop();
  await broker.close();
}
