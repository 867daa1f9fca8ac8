/**
 * Local fan-out: which connections of this instance subscribe to which topic instance, and the
 * delivery loop that sends one serialized frame (event-frame.ts) to all of them.
 * @module
 */
import type { WireFrame } from "../shared/binary-frame.ts";
import type { BrokerMessage } from "./broker/broker.ts";
import type { Connection } from "./connection.ts";
import { eventFrame } from "./event-frame.ts";
import type { Target } from "./target.ts";
import { inNativeChannel, RoomChannels } from "./room-channels.ts";
import type { RoomRegistry } from "./rooms.ts";

/**
 * Sends a frame to many connections at once by a runtime-native channel (Bun's `server.publish`);
 * false when some subscriber was backed up, so the core looks at each one.
 * @internal
 */
export type NativePublish = (channel: string, frame: WireFrame) => boolean;

/** The channel name of a topic instance: the topic, a colon, the canonical params key. */
export function channelOf(topic: string, key: string): string {
  return `${topic}:${key}`;
}

/** Subscribers of every topic instance on this instance, and the fan-out over them. */
export class TopicRegistry {
  private readonly live = new Map<string, Set<Connection>>();
  /** Subscriptions whose history is being replayed: their live frames wait in `held`. */
  private readonly recovering = new Map<string, Set<Connection>>();
  /** Live subscribers whose socket has no native channel, by channel (served one by one under native publish). */
  private readonly direct = new Map<string, Set<Connection>>();
  /** Offset of the last message delivered per channel, while it has subscribers here. */
  private readonly offsets = new Map<string, number>();
  /** Set by adapters that publish natively; untargeted and all-but-one publishes take that path. */
  nativePublish: NativePublish | undefined;
  /** Native channels of rooms (publishes to one room), created on first use. */
  private readonly roomChannels: RoomChannels;
  /** Backed-up connections (flow-control.ts): left out of native channels, served one by one meanwhile. */
  slow: ReadonlySet<Connection> = EMPTY;
  /** Told when native publish reported backpressure, to look at that channel's subscribers. */
  onBackpressure: (conn: Connection) => void = () => {};
  /** This instance's connection of an id (an all-but-sender publish is sent from the sender's socket). */
  connectionOf: (id: string) => Connection | undefined = () => undefined;

  constructor(
    private readonly rooms: RoomRegistry,
    // `volatile`: drop rather than queue when the socket is backed up (Target.volatile).
    private readonly send: (conn: Connection, frame: WireFrame, topic: string, channel: string, volatile?: boolean) => void,
  ) {
    this.roomChannels = new RoomChannels(rooms);
  }

  /** Subscribers of a channel that receive live frames. */
  subscribers(channel: string): ReadonlySet<Connection> {
    return this.live.get(channel) ?? EMPTY;
  }

  /** Number of channels with at least one subscriber here. */
  get size(): number {
    return this.live.size + this.recovering.size;
  }

  /** Every local subscriber of a channel, live or still recovering. */
  connectionsOf(channel: string): Connection[] {
    return [...(this.live.get(channel) ?? []), ...(this.recovering.get(channel) ?? [])];
  }

  /** Whether any local connection subscribes to the channel (live or recovering). */
  has(channel: string): boolean {
    return this.live.has(channel) || this.recovering.has(channel);
  }

  /** Offset of the last message delivered on a channel since it gained subscribers here; undefined before any. */
  lastOffset(channel: string): number | undefined {
    return this.offsets.get(channel);
  }

  /** Registers a subscription that first replays history; frames published meanwhile are held. */
  addRecovering(conn: Connection, channel: string): void {
    add(this.recovering, channel, conn);
  }

  /** Makes a subscription live: held frames were flushed by the caller. */
  goLive(conn: Connection, channel: string): void {
    remove(this.recovering, channel, conn);
    add(this.live, channel, conn);
    // Sockets without a native channel (the HTTP fallback) are served one by one beside it.
    if (conn.socket.subscribe === undefined) add(this.direct, channel, conn);
    else if (conn.outbox === null) {
      conn.socket.subscribe(channel);
      this.roomChannels.live(conn, channel);
    }
  }

  /** Removes a subscription (live or recovering). */
  remove(conn: Connection, channel: string): void {
    remove(this.recovering, channel, conn);
    remove(this.direct, channel, conn);
    if (remove(this.live, channel, conn)) (conn.socket.unsubscribe?.(channel), this.roomChannels.removed(conn, channel));
    if (!this.has(channel)) (this.offsets.delete(channel), this.roomChannels.forget(channel));
  }

  /** A connection went slow (it leaves its native channels: the caller takes its topic channels out) or caught up. */
  nativeChanged(conn: Connection, joined: boolean): void {
    this.roomChannels.native(conn, joined);
  }

  /** Serializes a broker message once and sends it to every local subscriber the target selects. */
  deliver(channel: string, message: BrokerMessage): number {
    const live = this.live.get(channel);
    const recovering = this.recovering.get(channel);
    if (live === undefined && recovering === undefined) return 0;
    if (message.offset !== undefined) this.offsets.set(channel, message.offset);
    const frame = eventFrame(message);
    const target = message.target;
    if (recovering !== undefined && target?.volatile !== true) {
      for (const conn of recovering) {
        if (target === undefined || selects(target, conn)) conn.subscriptions.get(channel)?.held?.push({ offset: message.offset, frame });
      }
    }
    if (live === undefined) return 0;
    if (this.nativePublish !== undefined) {
      const route = this.nativeRoute(channel, live, target);
      if (route !== undefined) return this.deliverNatively(channel, message.topic, frame, live, target, route);
    }
    if (target === undefined) {
      for (const conn of live) this.send(conn, frame, message.topic, channel);
      return live.size;
    }
    let sent = 0;
    for (const conn of this.candidates(live, target)) {
      if (selects(target, conn)) (this.send(conn, frame, message.topic, channel, target.volatile), sent++);
    }
    return sent;
  }

  /**
   * How a publish can take a native channel: `SERVER` (every member), a connection whose socket
   * publishes for it (Bun's `ws.publish` skips it: all but the sender), a room's channel (one room), or
   * undefined when none can express the target (several rooms, a room with exceptions, one connection,
   * several excluded members, volatile) and subscribers are served one by one.
   */
  private nativeRoute(channel: string, live: ReadonlySet<Connection>, target: Target | undefined): NativeRoute | undefined {
    if (target === undefined) return SERVER;
    if (target.connection !== undefined || target.volatile === true) return undefined;
    if (target.room !== undefined) {
      return typeof target.room !== "string" || target.except !== undefined ? undefined : { room: this.roomChannels.open(channel, live, target.room) };
    }
    if (target.except === undefined) return undefined;
    let from: Connection | undefined;
    for (const id of typeof target.except === "string" ? [target.except] : target.except) {
      const conn = this.connectionOf(id);
      // An excluded connection outside the native channel (not subscribed here, slow, HTTP fallback) needs no skipping there.
      if (conn === undefined || !live.has(conn) || !inNativeChannel(conn)) continue;
      if (from !== undefined || conn.socket.publish === undefined) return undefined;
      from = conn;
    }
    return from ?? SERVER;
  }

  /** Sends one frame through the native channel, and one by one to the selected subscribers outside it. */
  private deliverNatively(
    channel: string,
    topic: string,
    frame: WireFrame,
    live: ReadonlySet<Connection>,
    target: Target | undefined,
    route: NativeRoute,
  ): number {
    // Slow connections left the native channel. Taken before the native publish (which may turn more slow:
    // those got it natively) and served after it: one that catches up while served rejoins the channel,
    // and must not get this frame from it a second time.
    let slow: Connection[] | undefined;
    for (const conn of this.slow) {
      if (live.has(conn) && conn.socket.subscribe !== undefined && (target === undefined || selects(target, conn))) (slow ??= []).push(conn);
    }
    for (const conn of this.direct.get(channel) ?? EMPTY) {
      if (target === undefined || selects(target, conn)) this.send(conn, frame, topic, channel);
    }
    const published = route === SERVER || "room" in route
      ? this.nativePublish!(route === SERVER ? channel : route.room, frame)
      : route.socket.publish!(channel, frame);
    // Only when some subscriber was backed up are they looked at one by one.
    if (!published) for (const conn of live) this.onBackpressure(conn);
    if (slow !== undefined) for (const conn of slow) this.send(conn, frame, topic, channel);
    if (target?.room === undefined) return live.size - this.excludedOf(live, target);
    let selected = 0;
    for (const conn of this.candidates(live, target)) if (selects(target, conn)) selected++;
    return selected;
  }

  /** How many subscribers an all-but-these target leaves out. */
  private excludedOf(live: ReadonlySet<Connection>, target: Target | undefined): number {
    if (target?.except === undefined) return 0;
    let excluded = 0;
    for (const id of typeof target.except === "string" ? [target.except] : target.except) {
      const conn = this.connectionOf(id);
      if (conn !== undefined && live.has(conn)) excluded++;
    }
    return excluded;
  }

  /** The smaller of "subscribers" and "members of the target room" to iterate over. */
  private candidates(live: ReadonlySet<Connection>, target: Target): Iterable<Connection> {
    if (target.room === undefined || Array.isArray(target.room)) return live;
    const members = this.rooms.connections(target.room as string);
    return members.size < live.size ? members : live;
  }
}

/** Whether a target selects a connection (which is already known to subscribe). */
function selects(target: Target, conn: Connection): boolean {
  if (target.connection !== undefined && conn.id !== target.connection) return false;
  if (target.except !== undefined) {
    if (typeof target.except === "string" ? conn.id === target.except : target.except.includes(conn.id)) return false;
  }
  if (target.room !== undefined) {
    if (typeof target.room === "string" ? !conn.rooms.has(target.room) : !target.room.some((r) => conn.rooms.has(r))) {
      return false;
    }
  }
  return true;
}

/** The native route of the server's own publish, which skips nobody. */
const SERVER = "server";

/** Which native publish a message takes: the server's, a subscriber's socket's (all but it), or the server's on a room's channel. */
type NativeRoute = typeof SERVER | Connection | { room: string };

function add(map: Map<string, Set<Connection>>, channel: string, conn: Connection): void {
  let set = map.get(channel);
  if (set === undefined) map.set(channel, (set = new Set()));
  set.add(conn);
}

function remove(map: Map<string, Set<Connection>>, channel: string, conn: Connection): boolean {
  const set = map.get(channel);
  if (set === undefined || !set.delete(conn)) return false;
  if (set.size === 0) map.delete(channel);
  return true;
}

const EMPTY: ReadonlySet<Connection> = new Set();
