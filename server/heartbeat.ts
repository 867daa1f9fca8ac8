/**
 * Liveness: one sweep timer over every connection, never a timer per connection.
 * @module
 */
import { CloseCode } from "../shared/protocol.ts";
import type { Connection } from "./connection.ts";

/** Heartbeat timing, announced to clients in the hello frame. */
export interface HeartbeatOptions {
  /** Milliseconds between pings; under the 60 s idle cut of common proxies. @default 20000 */
  interval: number;
  /** Milliseconds without any frame after which a peer is dead. @default 45000 */
  timeout: number;
}

/** The defaults of {@link HeartbeatOptions}. */
export const DEFAULT_HEARTBEAT: HeartbeatOptions = { interval: 20_000, timeout: 45_000 };

const PING = JSON.stringify({ type: "ping" });

/** A sweep's share of the timeout: a silent peer is closed at most this fraction of the timeout late (plus timer delay). */
const SWEEP_FRACTION = 20;

/**
 * The runtime's own idle check (Deno's `idleTimeout`, Bun's `idleTimeout`), in whole seconds: twice the
 * heartbeat timeout, so that Tether's 4000 always comes first and the runtime's (Deno: 1001 "No
 * response from ping frame") only ever acts as a safety net. Capped at Bun's maximum, 960 s.
 */
export function runtimeIdleTimeout(options: HeartbeatOptions): number {
  return Math.min(960, Math.ceil((2 * options.timeout) / 1000));
}

/**
 * Liveness for every connection with one timer: it sweeps every `min(interval, timeout / 20)` ms,
 * closes (4000) the connections silent for longer than the timeout, and pings all of them once per
 * interval. A silent peer is closed between `timeout` and `timeout × 1.05` ms after its last frame
 * (plus the event loop's delay), not up to a whole interval late.
 */
export class Heartbeat<A = unknown> {
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastPing = 0;

  /**
   * @param options timing
   * @param connections the live connections, read at each sweep
   * @param release frees what a dead connection holds, without waiting for the runtime's close event
   *   (a close handshake with a half-open peer never completes, so that event may come late or never)
   */
  constructor(
    readonly options: HeartbeatOptions,
    private readonly connections: ReadonlyMap<string, Connection<A>>,
    private readonly release: (conn: Connection<A>) => void = () => {},
  ) {}

  /** Milliseconds between sweeps. */
  get period(): number {
    return Math.max(1, Math.min(this.options.interval, this.options.timeout / SWEEP_FRACTION));
  }

  /** Starts sweeping if it is not already (called when a connection opens). */
  start(): void {
    if (this.timer !== undefined) return;
    this.lastPing = Date.now();
    this.timer = setInterval(() => this.sweep(Date.now()), this.period);
  }

  /** Stops sweeping (called when the last connection closes, and on shutdown). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass: close the silent; once per interval, ping the rest. */
  sweep(now: number): void {
    // Half a period early rather than a period late: pings keep to the announced interval on average.
    const ping = now - this.lastPing >= this.options.interval - this.period / 2;
    if (ping) this.lastPing = now;
    for (const conn of this.connections.values()) {
      if (now - conn.lastSeen > this.options.timeout) {
        conn.close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout");
        this.release(conn);
      } else if (ping) conn.send(PING);
    }
  }
}
