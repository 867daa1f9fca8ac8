/**
 * The monotonic clock (`performance.now()`, ms) read once per turn of the event loop rather than once
 * per received message. Monotonic: liveness and rate limits measure durations, and a wall clock
 * stepped back or forward (NTP, a VM resumed) must neither hide a dead peer nor close every live one.
 * A clock read costs 0.1-0.4 µs on a virtual machine, and Deno hands a turn several messages at
 * once (about 8 per turn under the RPC throughput load): they share one read.
 * @module
 */

/** The first read of this turn; undefined until a message of the turn asks. */
let turnStart: number | undefined;

/** Drops the turn's read once the turn's messages are done: a microtask runs after them. */
function forget(): void {
  turnStart = undefined;
}

/**
 * `performance.now()` as first read in the current turn: every message handled in one turn sees the
 * time the turn started (later ones of the turn did wait that long to be read). Code that loops
 * synchronously sees one time for the whole loop.
 */
export function turnNow(): number {
  if (turnStart === undefined) {
    turnStart = performance.now();
    queueMicrotask(forget);
  }
  return turnStart;
}
