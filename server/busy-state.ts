/**
 * What a connection holds only while it is busy or unusual (connection.ts): one object allocated when
 * the first of it is set and let go when all of it is clear again, so an idle connection carries none.
 * @module
 */

/**
 * A connection's busy state: calls and requests in flight, per-channel work, rooms, the outbox of a
 * backed-up socket (of type `O`, the outbox, kept generic so this file imports nothing), rate-limit
 * refusals, shutdown, the server's close.
 */
export interface BusyState<O> {
  /** Calls running now, by request id. */
  inflight: Map<string | number, AbortController> | undefined;
  /** Ids of requests not answered yet. */
  awaiting: Set<string | number> | undefined;
  /** Per channel, the subscribe or unsubscribe still running there. */
  channelWork: Map<string, Promise<void>> | undefined;
  /** Rooms the connection is in. */
  rooms: Set<string> | undefined;
  /** Frames held back while the socket is over its buffer limit. */
  outbox: O | null;
  /** Frames refused by the rate limit in the current refusal window (see `Connection.admit`). */
  refused: number;
  /** When the current refusal window started (ms). */
  refusedSince: number;
  /** Set while the server lets the socket's buffer drain before its close frame (shutdown): nothing more is read or written. */
  quiet: boolean;
  /** The code and reason the server closed the connection with. */
  closedWith: { code: number; reason: string } | undefined;
}

/** A fresh busy state with nothing set. */
export function newBusyState<O>(): BusyState<O> {
  return {
    inflight: undefined,
    awaiting: undefined,
    channelWork: undefined,
    rooms: undefined,
    outbox: null,
    refused: 0,
    refusedSince: 0,
    quiet: false,
    closedWith: undefined,
  };
}

/** Whether all of a busy state is clear, so the connection can let it go (refusals counted in a window keep it). */
export function isClear<O>(b: BusyState<O>): boolean {
  return b.inflight === undefined && b.awaiting === undefined && b.channelWork === undefined && b.rooms === undefined &&
    b.outbox === null && b.refused === 0 && !b.quiet && b.closedWith === undefined;
}
