/**
 * Rooms: server-side groups of connections (`socket.join` / `io.to(room)` in Socket.IO terms).
 * @module
 */
import type { Connection } from "./connection.ts";

/** Room membership of this instance's connections; an emptied room is forgotten at once. */
export class RoomRegistry {
  private readonly members = new Map<string, Set<Connection>>();
  /** Told of every join and leave (room-channels.ts keeps Bun's native room channels in step). */
  onMembership: ((conn: Connection, room: string, joined: boolean) => void) | undefined;

  /** Adds a connection to a room. */
  join(conn: Connection, room: string): void {
    let set = this.members.get(room);
    if (set === undefined) this.members.set(room, (set = new Set()));
    set.add(conn);
    conn.addRoom(room);
    this.onMembership?.(conn, room, true);
  }

  /** Removes a connection from a room, forgetting the room when it empties. */
  leave(conn: Connection, room: string): void {
    const set = this.members.get(room);
    conn.deleteRoom(room);
    this.onMembership?.(conn, room, false);
    if (set === undefined) return;
    set.delete(conn);
    if (set.size === 0) this.members.delete(room);
  }

  /** Removes a connection from every room it is in (on disconnect). */
  leaveAll(conn: Connection): void {
    for (const room of [...conn.rooms]) this.leave(conn, room);
  }

  /** The connections in a room (empty when there is no such room). */
  connections(room: string): ReadonlySet<Connection> {
    return this.members.get(room) ?? EMPTY;
  }

  /** How many rooms have at least one member. */
  get size(): number {
    return this.members.size;
  }

  /** Every room with at least one member. */
  names(): IterableIterator<string> {
    return this.members.keys();
  }
}

const EMPTY: ReadonlySet<Connection> = new Set();
