/**
 * Cluster-wide queries and actions (Socket.IO's `fetchSockets`, `socketsJoin`, `socketsLeave`,
 * `disconnectSockets` on its Redis adapter): this instance answers for its own connections and the
 * broker's cluster relay asks every other instance, within the broker's bound.
 * @module
 */
import { decode, type Payload, topicKey } from "../shared/codec.ts";
import type { ClusterRelay } from "./broker/broker.ts";
import type { Connection } from "./connection.ts";
import type { Target } from "./target.ts";
import type { PresenceTracker } from "./presence.ts";
import type { RoomRegistry } from "./rooms.ts";
import { channelOf } from "./topics.ts";

/**
 * Which connections an action or query applies to, as in a publish's target: `room` (any of these
 * rooms), `connection` (this one), `except` (not these connections); `{}` selects every connection.
 */
export type Selector = Target;

/** One connection as a cluster query sees it (Socket.IO's `RemoteSocket`). */
export interface ClusterConnection {
  /** The connection's id. */
  id: string;
  /** The rooms it is in. */
  rooms: string[];
}

/**
 * Thrown by a `service.cluster` call when some instance received the request but did not answer
 * within the broker's `clusterTimeout` (it is stalled or overloaded). An action may have taken
 * effect on the instances that answered.
 */
export class ClusterTimeoutError extends Error {
  /** Always `"ClusterTimeoutError"`. */
  override readonly name = "ClusterTimeoutError";
  /**
   * Creates the error.
   * @param missing how many instances did not answer
   * @param answered how many instances answered, this one included
   */
  constructor(readonly missing: number, readonly answered: number) {
    super(`Cannot complete the cluster request: ${missing} instance(s) did not answer in time`);
  }
}

/** Queries and actions over every connection of every instance; with the memory broker, this instance's. */
export interface Cluster {
  /** Connections matching the selector on every instance, with their rooms (`fetchSockets`). */
  connections(selector?: Selector): Promise<ClusterConnection[]>;
  /** Ids of the connections in a room, on every instance. */
  roomMembers(room: string): Promise<string[]>;
  /** The rooms of a connection on any instance; undefined when no instance holds it. */
  roomsOf(connectionId: string): Promise<string[] | undefined>;
  /** Presence of a topic instance over every instance: member key -> connection id -> metadata. */
  presence(topic: string, params: unknown): Promise<Record<string, Record<string, unknown>>>;
  /** Makes the selected connections join a room (`socketsJoin`); resolves to how many were selected. */
  join(selector: Selector, room: string): Promise<number>;
  /** Makes the selected connections leave a room (`socketsLeave`); resolves to how many were selected. */
  leave(selector: Selector, room: string): Promise<number>;
  /**
   * Closes the selected connections (`disconnectSockets`), as `service.disconnect` does for one.
   * @param code @default 1000
   * @param reason @default "disconnected by the server"
   * @returns how many connections were closed
   * @throws {RangeError} for a code a server may not send (before anything is sent)
   */
  disconnect(selector: Selector, code?: number, reason?: string): Promise<number>;
}

/** A request as instances exchange it. */
type Request =
  | { op: "select"; selector: Selector }
  | { op: "presence"; channel: string }
  | { op: "join" | "leave"; selector: Selector; room: string }
  | { op: "disconnect"; selector: Selector; code: number; reason: string };

/** What the cluster reads and changes on this instance. */
export interface LocalParts {
  connections: ReadonlyMap<string, Connection<unknown>>;
  rooms: RoomRegistry;
  presence: PresenceTracker;
  /** Closes one local connection (the service's `disconnect`); false when it is not open here. */
  close(connectionId: string, code: number, reason: string): boolean;
}

/** Throws a RangeError for a close code a server may not send. */
export function checkCloseCode(code: number): void {
  if (code === 1000 || code === 1001 || code === 1008 || code === 1011 || code === 1013 || (code >= 3000 && code <= 4999)) return;
  throw new RangeError(`Cannot disconnect with code ${code}: use 1000, 1001, 1008, 1011, 1013 or 3000-4999`);
}

/**
 * Creates the service's cluster API and starts answering other instances through the relay.
 * @param relay the broker's cluster relay; absent, only this instance answers
 */
export function createCluster(local: LocalParts, relay: ClusterRelay | undefined): Cluster {
  const answer = (request: Request): unknown => {
    const selected = select(local, "selector" in request ? request.selector : {});
    switch (request.op) {
      case "select":
        return selected.map((c): ClusterConnection => ({ id: c.id, rooms: [...c.rooms] }));
      case "presence":
        return localPresence(local, request.channel);
      case "join":
        for (const c of selected) local.rooms.join(c as Connection, request.room);
        return selected.length;
      case "leave":
        for (const c of selected) local.rooms.leave(c as Connection, request.room);
        return selected.length;
      case "disconnect":
        return selected.filter((c) => local.close(c.id, request.code, request.reason)).length;
    }
  };
  relay?.listen((request) => answer(request as Request)).catch(() => {});

  /** This instance's answer and every other instance's; rejects when one did not answer in time. */
  const everywhere = async <T>(request: Request): Promise<T[]> => {
    const mine = answer(request) as T;
    if (relay === undefined) return [mine];
    const { answers, missing } = await relay.ask(request);
    if (missing > 0) throw new ClusterTimeoutError(missing, answers.length + 1);
    return [mine, ...(answers as T[])];
  };
  const sum = (counts: number[]) => counts.reduce((a, b) => a + b, 0);

  const cluster: Cluster = {
    async connections(selector = {}) {
      return (await everywhere<ClusterConnection[]>({ op: "select", selector })).flat();
    },
    async roomMembers(room) {
      return (await cluster.connections({ room })).map((c) => c.id);
    },
    async roomsOf(connectionId) {
      return (await cluster.connections({ connection: connectionId }))[0]?.rooms;
    },
    async presence(topic, params) {
      const parts = await everywhere<Record<string, Record<string, Payload>>>({ op: "presence", channel: channelOf(topic, topicKey(params)) });
      const merged = new Map<string, Map<string, unknown>>();
      for (const part of parts) {
        for (const [member, metas] of Object.entries(part)) {
          let into = merged.get(member);
          if (into === undefined) merged.set(member, (into = new Map()));
          for (const [id, meta] of Object.entries(metas)) into.set(id, decode(meta));
        }
      }
      // fromEntries defines own properties, so a member named "__proto__" cannot touch a prototype.
      return Object.fromEntries([...merged].map(([member, metas]) => [member, Object.fromEntries(metas)]));
    },
    async join(selector, room) {
      return sum(await everywhere<number>({ op: "join", selector, room }));
    },
    async leave(selector, room) {
      return sum(await everywhere<number>({ op: "leave", selector, room }));
    },
    async disconnect(selector, code = 1000, reason = "disconnected by the server") {
      checkCloseCode(code);
      return sum(await everywhere<number>({ op: "disconnect", selector, code, reason }));
    },
  };
  return cluster;
}

/** This instance's connections matching a selector. */
function select(local: LocalParts, selector: Selector): Connection<unknown>[] {
  let candidates: Iterable<Connection<unknown>>;
  if (selector.connection !== undefined) {
    const c = local.connections.get(selector.connection);
    candidates = c === undefined ? [] : [c];
  } else if (selector.room !== undefined) {
    const union = new Set<Connection<unknown>>();
    for (const room of typeof selector.room === "string" ? [selector.room] : selector.room) {
      for (const c of local.rooms.connections(room)) union.add(c);
    }
    candidates = union;
  } else {
    candidates = local.connections.values();
  }
  const rooms = selector.room === undefined ? undefined : typeof selector.room === "string" ? [selector.room] : selector.room;
  const except = selector.except === undefined ? undefined : new Set(typeof selector.except === "string" ? [selector.except] : selector.except);
  const out: Connection<unknown>[] = [];
  for (const c of candidates) {
    if (rooms !== undefined && !rooms.some((r) => c.rooms.has(r))) continue;
    if (except?.has(c.id) === true) continue;
    out.push(c);
  }
  return out;
}

/** The presence entries of this instance's own connections (other instances report theirs). */
function localPresence(local: LocalParts, channel: string): Record<string, Record<string, Payload>> {
  const mine: [string, Record<string, Payload>][] = [];
  for (const [member, metas] of Object.entries(local.presence.list(channel))) {
    const own = Object.entries(metas).filter(([id]) => local.connections.has(id));
    if (own.length > 0) mine.push([member, Object.fromEntries(own)]);
  }
  return Object.fromEntries(mine);
}
