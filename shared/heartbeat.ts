/**
 * The heartbeat's constants both sides share (PROTOCOL.md section 6). Kept apart from protocol.ts so
 * the client bundle can use them without pulling in the frame schemas.
 * @module
 */

/**
 * The beat: an unsolicited `pong` without `ts` (RFC 6455 allows one as a one-way heartbeat). It is never
 * echoed: the server sends one per interval, and Tether's client answers it with a beat of its own.
 */
export const BEAT = JSON.stringify({ type: "pong" });

/** The default heartbeat timing in ms: a beat every 25 s (under the 60 s idle cut of common proxies), a peer dead after 45 s without a frame. */
export const DEFAULT_TIMING: { readonly interval: number; readonly timeout: number } = { interval: 25_000, timeout: 45_000 };
