/**
 * createService: the runtime-agnostic core. Adapters feed it socket events; it answers frames.
 * @module
 */
import { decode, topicKey } from "../shared/codec.ts";
import { clientProcedures, type ContractTree } from "../shared/contract.ts";
import type { ClientSide } from "../shared/contract-types.ts";
import type { RpcError } from "../shared/errors.ts";
import { CloseCode } from "../shared/protocol.ts";
import { type PresenceChange, renderBrokerMetrics } from "./broker/broker.ts";
import { type ClientCaller, ClientCalls } from "./client-calls.ts";
import { checkCloseCode, type Cluster, createCluster } from "./cluster.ts";
import type { Connection } from "./connection.ts";
import type { Socket } from "./socket.ts";
import { bindHandlers, type Core, middlewareChains } from "./core.ts";
import { receive } from "./dispatch.ts";
import type { Handlers, Publisher } from "./handlers.ts";
import { Heartbeat } from "./heartbeat.ts";
import { IdempotencyCache } from "./idempotency.ts";
import { ConnectionLifecycle } from "./lifecycle.ts";
import { createLocalDelivery } from "./local-delivery.ts";
import { Metrics } from "./metrics.ts";
import { type ResolvedOptions, resolveOptions, type ServiceOptions } from "./options.ts";
import { PresenceTracker } from "./presence.ts";
import { createPublishing } from "./publishing.ts";
import { RoomRegistry } from "./rooms.ts";
import { shutDown } from "./shutdown.ts";
import { channelOf, type NativePublish } from "./topics.ts";

/** A running service: the publish API, queries, and the entry points adapters call. */
export interface Service<C extends ContractTree, A = unknown> extends Publisher<C> {
  /** The contract served. */
  readonly contract: C;
  /** Options with defaults applied. */
  readonly options: ResolvedOptions<C, A>;
  /** Live connections by id. */
  readonly connections: ReadonlyMap<string, Connection<A>>;
  /**
   * Adapter entry: a socket opened; sends the hello frame. With `refused` (authentication failed on
   * a tether.v1 upgrade) it sends that error instead and closes with 4401 / 4403.
   */
  open(socket: Socket, auth: A, ip: string, refused?: RpcError): Connection<A>;
  /** Adapter entry: a frame arrived. */
  receive(conn: Connection<A>, data: string | ArrayBuffer | Uint8Array): void;
  /** Adapter entry: the socket closed (with `code` and `reason`, when the runtime reports them); releases everything the connection held. */
  closed(conn: Connection<A>, code?: number, reason?: string): void;
  /** Adapter entry: the runtime drained a socket's buffer (Bun's drain event); flushes its outbox. */
  drain(conn: Connection<A>): void;
  /** Counters for `GET /metrics`. */
  readonly metrics: Metrics;
  /** False once `close()` started: new upgrades get 503 and `/readyz` fails. */
  readonly accepting: boolean;
  /** Adapter entry: Bun can publish natively to channels; untargeted and all-but-sender events, and the heartbeat's beat, then take that path. */
  useNativePublish(publish: NativePublish): void;
  /**
   * Closes one connection of this instance (Socket.IO's `socket.disconnect()`); `onDisconnect` runs
   * with this code and reason. With 1000 the client stays closed; 4401 / 4403 end in its
   * "unauthorized" state; other codes follow PROTOCOL.md section 8 (most reconnect).
   * @param code 1000, 1001, 1008, 1011, 1013 or 3000-4999 @default 1000
   * @param reason at most 123 bytes of UTF-8 are sent @default "disconnected by the server"
   * @returns false when no such connection is open here
   * @throws {RangeError} for a code a server may not send
   */
  disconnect(connectionId: string, code?: number, reason?: string): boolean;
  /**
   * Queries and actions over the connections of every instance (with the Redis broker; with the
   * memory broker, this one's): room members, a connection's rooms, presence, join, leave, disconnect.
   */
  readonly cluster: Cluster;
  /**
   * Calls the procedures of the contract's `client` section on one connection, of this instance
   * or (Redis broker) of any other: `await service.client(connectionId).confirm(input, { timeout, signal })`.
   * A connection that is not open anywhere rejects with DISCONNECTED.
   */
  client(connectionId: string): ClientCaller<ClientSide<C>>;
  /** The rooms a connection of this instance is in (synchronous; `cluster.roomsOf` finds it on any instance). */
  roomsOf(connectionId: string): ReadonlySet<string>;
  /** Connection ids in a room on this instance (synchronous; `cluster.roomMembers` asks every instance). */
  roomMembers(room: string): string[];
  /** Presence of a topic instance as this instance knows it: member key -> connection id -> metadata (`cluster.presence` asks every instance). */
  presence(topic: string, params: unknown): Record<string, Record<string, unknown>>;
  /** Sizes of every internal map, for metrics and leak tests. */
  stats(): { connections: number; channels: number; rooms: number; presence: number; inflight: number; queued: number };
  /** Prometheus text of every metric, gauges read now. */
  renderMetrics(): string;
  /**
   * Stops accepting, waits up to `shutdownGrace` for in-flight calls, then closes every socket with
   * 1001 and a retry hint, waits for the clients' close frames (until the grace period ends, at least
   * `min(shutdownGrace, 1000)` ms), and stops timers and the broker.
   */
  close(retryAfterMs?: number): Promise<void>;
}

/**
 * Creates the service for a contract and its handlers.
 * @throws {TypeError} when a procedure has no handler
 * @throws {RangeError} when `heartbeat.timeout` is not longer than `heartbeat.interval`
 * @example const service = createService(contract, handlers, { dev: true })
 */
export function createService<C extends ContractTree, A = undefined>(
  contract: C,
  // NoInfer: A comes from `authenticate` in options; handlers are then typed from it, not the reverse.
  handlers: NoInfer<Handlers<C, C, A>>,
  options: ServiceOptions<C, A> = {},
): Service<C, A> {
  const resolved = resolveOptions(options);
  const connections = new Map<string, Connection<A>>();
  // One rate object for every connection: a per-connection copy costs memory on idle sockets.
  const rate = { perSecond: resolved.limits.ratePerSecond, burst: resolved.limits.rateBurst };
  const { procedures, topics } = bindHandlers(contract, handlers);
  const rooms = new RoomRegistry();
  const metrics = new Metrics();
  const logger = resolved.logger;
  const broker = resolved.broker;
  // Released at once (4008): a slow socket's close frame waits behind unread data, so its close event may come late or never.
  const release = (conn: Connection, reason: string) => service.closed(conn as Connection<A>, CloseCode.SLOW_CONSUMER, reason);
  const { registry, flow } = createLocalDelivery({ maxBufferedBytes: resolved.maxBufferedBytes, topics, rooms, metrics, logger, connections, release });
  const presence = new PresenceTracker(resolved.presenceWindow, (channel, frame) => {
    for (const conn of registry.subscribers(channel)) conn.send(frame);
  });
  // A peer declared dead is released at once: a half-open socket may never fire its close event.
  const heartbeat = new Heartbeat(resolved.heartbeat, connections, (conn) => service.closed(conn, CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout"));
  const { publisher, publishValid } = createPublishing(topics, broker, metrics);

  const core: Core<A> = {
    options: resolved as ResolvedOptions<ContractTree, A>,
    procedures,
    topics: topics as Core<A>["topics"],
    chain: middlewareChains<A>(resolved.middleware),
    registry,
    rooms,
    presence,
    broker,
    publisher,
    publishValid,
    metrics,
    logger,
    idempotency: new IdempotencyCache(resolved.idempotencyWindow, broker.outcomes),
    clientCalls: new ClientCalls({
      procedures: clientProcedures(contract),
      connections,
      timeout: resolved.callTimeout,
      maxPending: resolved.limits.maxInFlight,
      logger,
      relay: broker.clientCalls,
    }),
  };

  // A channel that lost messages (Redis outage): its subscribers reconnect, resubscribe with their
  // offset and are told `recovered: false`, the only way the protocol has to say "refetch".
  const reset = (channel: string) => {
    for (const conn of registry.connectionsOf(channel)) conn.close(CloseCode.TRY_AGAIN_LATER, "retry=100; stream reset");
  };
  // Presence changes made on other instances (Redis broker) enter the local tracker like local ones.
  const remotePresence = (change: PresenceChange) => presence.apply(change);
  // Counted here, not per send: Bun's native publish reaches subscribers without passing the core.
  const started = broker.start((channel, message) => void (metrics.delivered += registry.deliver(channel, message)), reset, remotePresence, logger);
  if (started instanceof Promise) started.catch(() => {});

  const lifecycle = new ConnectionLifecycle<A>({ core, connections, flow, heartbeat, rate });
  let accepting = true;

  const service: Service<C, A> = {
    contract,
    options: resolved,
    connections,
    publish: publisher.publish as Publisher<C>["publish"],

    open(socket, auth, ip, refused) {
      return lifecycle.open(socket, auth, ip, refused);
    },

    receive(conn, data) {
      if (conn.open) receive(core, conn, data);
    },

    disconnect(connectionId, code = CloseCode.NORMAL, reason = "disconnected by the server") {
      checkCloseCode(code);
      const conn = connections.get(connectionId);
      if (conn === undefined) return false;
      conn.close(code, reason);
      return true;
    },

    closed(conn, code, reason) {
      lifecycle.closed(conn, code, reason);
    },

    drain(conn) {
      flow.flush(conn as Connection);
    },

    metrics,

    get accepting() {
      return accepting;
    },

    cluster: createCluster({ connections, rooms, presence, close: (id, code, reason) => service.disconnect(id, code, reason) }, broker.cluster),

    client(connectionId) {
      return core.clientCalls.caller(connectionId) as ClientCaller<ClientSide<C>>;
    },

    useNativePublish(publish) {
      registry.nativePublish = publish;
      heartbeat.nativeBeat = publish;
    },

    roomsOf(connectionId) {
      return connections.get(connectionId)?.rooms ?? new Set();
    },

    roomMembers(room) {
      return [...rooms.connections(room)].map((c) => c.id);
    },

    presence(topic, params) {
      const key = topicKey(params);
      const state = presence.list(channelOf(topic, key));
      return Object.fromEntries(
        Object.entries(state).map(([member, metas]) => [
          member,
          Object.fromEntries(Object.entries(metas).map(([id, meta]) => [id, decode(meta)])),
        ]),
      );
    },

    stats() {
      let inflight = 0;
      for (const conn of connections.values()) inflight += conn.inflight.size;
      return { connections: connections.size, channels: registry.size, rooms: rooms.size, presence: presence.size, inflight, queued: flow.queued };
    },

    renderMetrics() {
      const { inflight, queued } = service.stats();
      let subscriptions = 0;
      for (const conn of connections.values()) subscriptions += conn.subscriptions.count();
      return metrics.render({ connections: connections.size, subscriptions, inflight, queued }) + renderBrokerMetrics(broker);
    },

    async close(retryAfterMs = 1000) {
      accepting = false;
      await shutDown({ connections, grace: resolved.shutdownGrace, heartbeat, presence, flow, broker }, retryAfterMs);
    },
  };
  return service;
}
