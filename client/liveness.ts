/**
 * The client's side of the heartbeat (PROTOCOL.md section 6): a one-way beat every interval (an
 * unsolicited `pong` the server does not answer), a `ping` instead on the first interval and every
 * {@link LATENCY_EVERY}th (its pong gives the latency), the server declared dead after the timeout
 * with no frame, and a quick probe after a tab wakes.
 * @module
 */

/** Every this many intervals the beat is a `ping` with `ts` (and on the first): latency every 2 minutes with the defaults. */
export const LATENCY_EVERY = 6;

const BEAT = JSON.stringify({ type: "pong" });

/** Heartbeat timing as the server announced it. */
export interface Timing {
  interval: number;
  timeout: number;
}

/** Beats to the server, measures the round trip now and then, and notices when the server has gone silent. */
export interface Liveness {
  /** Round-trip time of the last answered ping, in milliseconds. */
  latency(): number | undefined;
  /** Starts beating on the server's interval. */
  start(timing: Timing): void;
  /** Any frame from the server proves it alive. */
  seen(): void;
  /** A pong came back: measure, and settle the wake-up probe if it is its answer. */
  pong(ts: number | undefined): void;
  /** A tab woken from sleep must not trust its socket: probe it and give up if no answer comes soon. */
  check(): void;
  /** Stops every timer (socket gone or client closed). */
  stop(): void;
}

/**
 * Creates the liveness watch of one client.
 * @param send writes a frame to the open socket
 * @param dead called once the server is considered gone, with the reason
 */
export function createLiveness(send: (frame: string) => boolean, dead: (reason: string) => void): Liveness {
  let latency: number | undefined;
  let lastSeen = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  let probeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The `ts` of the wake-up probe still waiting for its pong. */
  let probe: number | undefined;
  let interval = 20_000;

  const ping = (ts: number) => send(JSON.stringify({ type: "ping", ts }));
  const stop = () => {
    clearInterval(timer);
    clearTimeout(probeTimer);
    timer = probeTimer = probe = undefined;
  };

  return {
    latency: () => latency,
    start(timing) {
      stop();
      interval = timing.interval;
      lastSeen = Date.now();
      let ticks = 0;
      timer = setInterval(() => {
        if (Date.now() - lastSeen > timing.timeout) return dead("heartbeat timeout");
        if (ticks++ % LATENCY_EVERY === 0) ping(Date.now());
        else send(BEAT);
      }, interval);
    },
    seen() {
      lastSeen = Date.now();
    },
    pong(ts) {
      if (ts === undefined) return;
      if (ts === probe) probe = undefined;
      latency = Date.now() - ts;
    },
    check() {
      const at = (probe = Date.now());
      ping(at);
      clearTimeout(probeTimer);
      // A live server answers within a round trip; one interval is generous and far shorter than the timeout.
      // Only the probe's own pong counts: a frame read in the same millisecond may predate the sleep.
      probeTimer = setTimeout(() => probe === at && dead("no answer after wake-up"), Math.min(interval, 5_000));
    },
    stop,
  };
}
