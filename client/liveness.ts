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
export class Liveness {
  /** Round-trip time of the last answered ping, in milliseconds. */
  latency: number | undefined;
  private lastSeen = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private probeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The `ts` of the wake-up probe still waiting for its pong. */
  private probe: number | undefined;
  private timing: Timing = { interval: 20_000, timeout: 45_000 };

  /**
   * @param send writes a frame to the open socket
   * @param dead called once the server is considered gone, with the reason
   */
  constructor(
    private readonly send: (frame: string) => boolean,
    private readonly dead: (reason: string) => void,
  ) {}

  /** Starts pinging on the server's interval. */
  start(timing: Timing): void {
    this.stop();
    this.timing = timing;
    this.lastSeen = Date.now();
    this.timer = setInterval(() => {
      if (Date.now() - this.lastSeen > timing.timeout) return this.dead("heartbeat timeout");
      this.send(JSON.stringify({ type: "ping", ts: Date.now() }));
    }, timing.interval);
  }

  /** Any frame from the server proves it alive. */
  seen(): void {
    this.lastSeen = Date.now();
  }

  /** A pong came back: measure, and settle the wake-up probe if it is its answer. */
  pong(ts: number | undefined): void {
    if (ts === undefined) return;
    if (ts === this.probe) this.probe = undefined;
    this.latency = Date.now() - ts;
  }

  /** A tab woken from sleep must not trust its socket: probe it and give up if no answer comes soon. */
  check(): void {
    const at = Date.now();
    this.probe = at;
    this.send(JSON.stringify({ type: "ping", ts: at }));
    clearTimeout(this.probeTimer);
    // A live server answers within a round trip; one interval is generous and far shorter than the timeout.
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      // Only the probe's own pong counts: a frame read in the same millisecond may predate the sleep.
      if (this.probe === at) this.dead("no answer after wake-up");
    }, Math.min(this.timing.interval, 5_000));
  }

  /** Stops every timer (socket gone or client closed). */
  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.probeTimer);
    this.timer = this.probeTimer = this.probe = undefined;
  }
}
