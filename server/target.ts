/**
 * Where a publish goes: the target a handler, the service or another instance (through the broker)
 * names, in Socket.IO terms. Its own module because the handler types, topics, the cluster and the
 * broker all read it.
 * @module
 */

/** Who receives a publish, in Socket.IO terms. Without a target: every subscriber of the instance. */
export interface Target {
  /** Only subscribers that are members of this room (or of any of these rooms): `io.to(room)`. */
  room?: string | readonly string[];
  /** Every subscriber but these connections: `socket.broadcast`. */
  except?: string | readonly string[];
  /** Only this connection, if it is subscribed: `io.to(socketId)`. */
  connection?: string;
  /**
   * Drop rather than queue (Socket.IO's `volatile.emit`): a subscriber whose socket is backed up
   * (an outbox, or more than `maxBufferedBytes` buffered) or still replaying history does not get
   * it; it gets no offset, is never kept in history nor replayed. Drops are counted in
   * `tether_messages_volatile_dropped_total`. @default false
   */
  volatile?: boolean;
}
