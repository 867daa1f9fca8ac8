/**
 * Native channels for room-targeted publishes (Bun): one per room × topic instance, whose members
 * are the room's members among the instance's live subscribers, so that a publish to `{ room }`
 * is one native publish instead of a send per member from JavaScript. A room's channel on an
 * instance is created on the first room-targeted publish there (connections that never receive
 * one hold no extra membership), then follows every join, leave, subscribe, unsubscribe and
 * slow/caught-up change of its members. Subscribers outside native channels (slow ones, HTTP
 * fallback sessions) are served one by one beside it, as for any native publish (topics.ts).
 * @module
 */
import type { Connection } from "./connection.ts";
import type { RoomRegistry } from "./rooms.ts";

/** The native channel of a room's members among a topic instance's subscribers (a NUL never occurs in a channel name). */
function roomChannelOf(channel: string, room: string): string {
  return `${channel}\u0000${room}`;
}

/** Whether a connection is a member of the native channels of its live subscriptions: not slow, not HTTP fallback. */
export function inNativeChannel(conn: Connection): boolean {
  return conn.socket.subscribe !== undefined && conn.outbox === null;
}

/** Whether a connection's subscription to a channel is live (its history replay, if any, is over). */
function liveOn(conn: Connection, channel: string): boolean {
  return conn.subscriptions.get(channel)?.held === null;
}

/** The room channels of one service instance. */
export class RoomChannels {
  /** Rooms with a native channel, by topic instance channel. */
  private readonly active = new Map<string, Set<string>>();

  constructor(private readonly rooms: RoomRegistry) {
    rooms.onMembership = (conn, room, joined) => this.membership(conn, room, joined);
  }

  /**
   * The native channel to publish a room-targeted message of a channel on, created now if it is the
   * first: the room's members among `live` that are in native channels join it.
   */
  open(channel: string, live: ReadonlySet<Connection>, room: string): string {
    const name = roomChannelOf(channel, room);
    let rooms = this.active.get(channel);
    if (rooms === undefined) this.active.set(channel, (rooms = new Set()));
    if (rooms.has(room)) return name;
    rooms.add(room);
    const members = this.rooms.connections(room);
    for (const conn of members.size < live.size ? members : live) {
      if (live.has(conn) && conn.rooms.has(room) && inNativeChannel(conn)) conn.socket.subscribe!(name);
    }
    return name;
  }

  /** A subscription went live: it joins the room channels of its channel for the rooms its connection is in. */
  live(conn: Connection, channel: string): void {
    if (!inNativeChannel(conn)) return;
    for (const name of this.namesOf(conn, channel)) conn.socket.subscribe!(name);
  }

  /** A live subscription ended: it leaves its channel's room channels. */
  removed(conn: Connection, channel: string): void {
    for (const name of this.namesOf(conn, channel)) conn.socket.unsubscribe?.(name);
  }

  /** The channel has no subscriber here any more: its room channels are forgotten. */
  forget(channel: string): void {
    this.active.delete(channel);
  }

  /** A connection went slow (it leaves every native channel) or caught up (it rejoins them). */
  native(conn: Connection, joined: boolean): void {
    for (const channel of conn.subscriptions.keys()) {
      if (!liveOn(conn, channel)) continue;
      for (const name of this.namesOf(conn, channel)) {
        if (joined) conn.socket.subscribe?.(name);
        else conn.socket.unsubscribe?.(name);
      }
    }
  }

  /** A connection joined or left a room: its live subscriptions' channels of that room follow. */
  private membership(conn: Connection, room: string, joined: boolean): void {
    if (this.active.size === 0) return;
    for (const channel of conn.subscriptions.keys()) {
      if (this.active.get(channel)?.has(room) !== true) continue;
      const name = roomChannelOf(channel, room);
      if (!joined) conn.socket.unsubscribe?.(name);
      else if (liveOn(conn, channel) && inNativeChannel(conn)) conn.socket.subscribe!(name);
    }
  }

  /** The room channels of a channel for the rooms a connection is in. */
  private namesOf(conn: Connection, channel: string): string[] {
    const rooms = this.active.get(channel);
    if (rooms === undefined || conn.rooms.size === 0) return [];
    const names: string[] = [];
    for (const room of conn.rooms) if (rooms.has(room)) names.push(roomChannelOf(channel, room));
    return names;
  }
}
