/**
 * The client's side of the heartbeat (PROTOCOL.md section 6): a one-way beat (an unsolicited `pong`
 * the server does not answer) sent as the answer to the server's beat, so the answers of a slice
 * reach the server together; a beat of its own only when the server's stop coming (an older server);
 * a `ping` instead on the first beat (right after the hello) and every {@link LATENCY_EVERY}th (its
 * pong gives the latency);
 * the server declared dead after the timeout with no frame, and a quick probe after a tab wakes.
 * Deadlines run on the monotonic clock (`performance.now()`): a wall clock stepped back must not delay
 * noticing a dead server. A ping's `ts` is read from it too (the server only echoes it).
 * @module
 */
import { BEAT, DEFAULT_TIMING } from "../shared/heartbeat.ts";

/** Every this many beats the beat is a `ping` with `ts` (the first too): latency every 2.5 minutes with the defaults. */
export const LATENCY_EVERY = 6;

/** Heartbeat timing as the server announced it. */
export interface Timing {
  interval: number;
  timeout: number;
}

/**
 * Milliseconds without a beat sent after which the client beats on its own: past one interval (so
 * the server's beat, answered, comes first), before the server's ping at `(I + T) / 2`. With the
 * defaults (25 s, 45 s), 30 s.
 */
export function ownBeatAfter({ interval, timeout }: Timing): number {
  return (3 * interval + timeout) / 4;
}

/** Beats to the server, measures the round trip now and then, and notices when the server has gone silent. */
export interface Liveness {
  /** Round-trip time of the last answered ping, in whole milliseconds. */
  latency(): number | undefined;
  /** Starts the watch on the server's timing. */
  start(timing: Timing): void;
  /** Any frame from the server proves it alive. */
  seen(): void;
  /**
   * A pong came: with `ts`, an answer to our ping (measure, and settle the wake-up probe if it is
   * its answer); without, the server's beat, answered with ours unless we beat less than half an
   * interval ago.
   */
  pong(ts: number | undefined): void;
  /** A tab woken from sleep must not trust its socket: probe it and give up if no answer comes soon. */
  check(): void;
  /** Stops every timer (socket gone or client closed). */
  stop(): void;
}

/**
 * Creates the liveness watch of one client: one timer, due when the client must beat on its own or
 * when the server has been silent for the timeout, whichever comes first.
 * @param send writes a frame to the open socket
 * @param dead called once the server is considered gone, with the reason
 */
export function createLiveness(send: (frame: string) => boolean, dead: (reason: string) => void): Liveness {
  let latency: number | undefined;
  let timing: Timing = DEFAULT_TIMING;
  let lastSeen = 0;
  let lastBeat = 0;
  let beats = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let probeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The `ts` of the wake-up probe still waiting for its pong. */
  let probe: number | undefined;

  // Whole milliseconds, rounded down: the frame stays short and the latency is never negative.
  const ping = (ts: number) => send(JSON.stringify({ type: "ping", ts }));
  const beat = () => {
    lastBeat = performance.now();
    if (beats++ % LATENCY_EVERY === 0) ping(Math.floor(lastBeat));
    else send(BEAT);
  };
  const arm = () => {
    const due = Math.min(lastBeat + ownBeatAfter(timing), lastSeen + timing.timeout);
    timer = setTimeout(onDue, Math.max(0, due - performance.now()));
  };
  // The timer usually finds the server's beat answered since it was set, and only sets itself again.
  const onDue = () => {
    const at = performance.now();
    if (at - lastSeen >= timing.timeout) return dead("heartbeat timeout");
    if (at - lastBeat >= ownBeatAfter(timing)) beat();
    arm();
  };
  const stop = () => {
    clearTimeout(timer);
    clearTimeout(probeTimer);
    timer = probeTimer = probe = undefined;
  };

  return {
    latency: () => latency,
    start(announced) {
      stop();
      timing = announced;
      lastSeen = performance.now();
      beats = 0;
      // The first beat goes with the hello: a ping, so the latency is known from the start.
      beat();
      arm();
    },
    seen() {
      lastSeen = performance.now();
    },
    pong(ts) {
      if (ts === undefined) {
        if (timer !== undefined && performance.now() - lastBeat >= timing.interval / 2) beat();
        return;
      }
      if (ts === probe) probe = undefined;
      latency = Math.round(performance.now() - ts);
    },
    check() {
      const at = (probe = Math.floor(performance.now()));
      ping(at);
      clearTimeout(probeTimer);
      // A live server answers within a round trip; one interval is generous and far shorter than the timeout.
      // Only the probe's own pong counts: a frame read in the same millisecond may predate the sleep.
      probeTimer = setTimeout(() => probe === at && dead("no answer after wake-up"), Math.min(timing.interval, 5_000));
    },
    stop,
  };
}
