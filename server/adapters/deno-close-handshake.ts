/**
 * Deno's server WebSocket drops its close frame when the peer keeps sending: once `close()` has run,
 * the next data frame read makes the runtime dispatch `close` (code 0) and release the socket at
 * once (its `[[eventLoop]]` checks `readyState == CLOSING && role !== CLIENT`), before the pending
 * close frame is written. The peer sees TCP end (usually a reset) and never learns the code, e.g. a
 * client streaming calls at shutdown never sees its 1001 retry hint (measured with strace: `close(fd)`
 * with no close frame ever written, in 8 of 120 clients). This module closes so that the handshake
 * survives: the socket is marked as a client's for a bounded time, which makes Deno read and dispatch
 * the peer's remaining frames (the core ignores them: the connection is closed) until the peer's own
 * close frame arrives; then the socket ends with nothing unread, so with a FIN, not a reset.
 * @module
 */

/** The value of Deno's internal `[[role]]` for a socket it opened as a client (ext/websocket, Deno 2). */
const CLIENT_ROLE = 1;

/** Milliseconds a closing socket reads the peer's frames while it waits for its close frame; after that, the next frame releases it. */
const CLOSE_READ_WAIT = 1000;

/** The member of Deno's WebSocket this module calls. */
export interface ClosableSocket {
  close(code?: number, reason?: string): void;
}

/**
 * Sends the close frame and keeps the close handshake when the peer is still sending, for at most
 * 1000 ms. Where the runtime's internals differ (another Deno), it closes as before.
 * @param unref Deno.unrefTimer, so that the bound's timer never keeps the process alive
 */
export function closeKeepingHandshake(socket: ClosableSocket, code: number, reason: string, unref: (timer: number) => void): void {
  socket.close(code, reason);
  // The adapter boundary: Deno keeps the role under a private symbol; nothing else reaches it.
  const role = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === "[[role]]");
  if (role === undefined) return;
  const internals = socket as unknown as Record<symbol, unknown>;
  const server = internals[role];
  if (server === CLIENT_ROLE) return;
  internals[role] = CLIENT_ROLE;
  // A peer that streams and never answers is released at its next frame once the bound is over.
  unref(setTimeout(() => (internals[role] = server), CLOSE_READ_WAIT) as unknown as number);
}
