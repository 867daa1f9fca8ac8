/**
 * The client's side of the heartbeat: a ping every interval (its pong gives the latency), the
 * server declared dead after the timeout with no traffic, and a quick probe after a tab wakes.
 * @module
 */

/** Heartbeat timing as the server announced it. */
export interface Timing {
  interval: number;
  timeout: number;
}

/** Pings the server and notices when it has gone silent. */
export interface Liveness {
  /** Round-trip time of the last answered ping, in milliseconds. */
  latency(): number | undefined;
  /** Starts pinging on the server's interval. */
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
      timer = setInterval(() => (Date.now() - lastSeen > timing.timeout ? dead("heartbeat timeout") : ping(Date.now())), interval);
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
