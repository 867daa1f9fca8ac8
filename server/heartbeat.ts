/**
 * Liveness: one sweep per interval over every connection, never a timer per connection.
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

/** Pings every connection once per interval and closes those silent for longer than the timeout. */
export class Heartbeat<A = unknown> {
  private timer: ReturnType<typeof setInterval> | undefined;

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

  /** Starts sweeping if it is not already (called when a connection opens). */
  start(): void {
    this.timer ??= setInterval(() => this.sweep(Date.now()), this.options.interval);
  }

  /** Stops sweeping (called when the last connection closes, and on shutdown). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass: close the silent, ping the rest. */
  sweep(now: number): void {
    for (const conn of this.connections.values()) {
      if (now - conn.lastSeen > this.options.timeout) {
        conn.close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout");
        this.release(conn);
      } else conn.send(PING);
    }
  }
}
