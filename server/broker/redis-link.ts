/**
 * The state of the Redis broker's link (its command and pub/sub connections, on a cluster those to
 * every master) as readiness and operators see it: up, down or stalled, from the watchdog
 * (redis-watchdog.ts). A stalled or down link fails readiness. Each change of state is logged once
 * (not per message), with how long the previous state lasted and what failed meanwhile; each outage
 * is counted.
 * @module
 */
import type { Logger } from "../log.ts";
import { type LinkConnections, type LinkState, type LinkTiming, LinkWatchdog } from "./redis-watchdog.ts";

/** The broker's link: its state from the watchdog, logged when it changes. */
export class RedisLink {
  /** Where changes of state are logged; the service hands its logger over in `start`. */
  logger: Logger | undefined;
  private readonly watchdog: LinkWatchdog;
  private current: LinkState;
  private since = Date.now();
  /** What failed since the last change of state, for the next log line. */
  private publishesFailed = 0;

  /**
   * @param clients the broker's connections, all ready
   * @param url the Redis URL (logged without its password)
   * @param timing watchdog timing
   * @param onOutage called when the link leaves "up" (for the outage counter)
   */
  constructor(
    clients: LinkConnections,
    private readonly url: string,
    timing: LinkTiming,
    private readonly onOutage: () => void,
  ) {
    this.watchdog = new LinkWatchdog(clients, timing, (reason) => this.update(reason));
    this.current = this.watchdog.state;
  }

  /** The joint state: up only when every connection is ready and answers PINGs. */
  get state(): LinkState {
    return this.watchdog.state;
  }

  /** Starts the watchdog. */
  start(): void {
    this.watchdog.start();
  }

  /** Counts a publish Redis did not take; the first one since the last change of state is logged. */
  publishFailed(channel: string, error: unknown): void {
    if (this.publishesFailed++ === 0) {
      this.logger?.warn("broker publish failed; callers get an error until the link is back", {
        channel,
        link: this.state,
        error: error instanceof Error ? error.message || error.name : String(error),
      });
    }
  }

  /** Logs a stream reset: a channel lost messages and its local subscribers must resubscribe. */
  reset(channel: string, reason: string): void {
    this.logger?.warn("broker stream reset; its subscribers are told to resubscribe", { channel, reason });
  }

  /** Stops the watchdog. */
  close(): void {
    this.watchdog.close();
  }

  private update(reason: string): void {
    const next = this.watchdog.state;
    if (next === this.current) return;
    const now = Date.now();
    const fields = { redis: redact(this.url), reason, previous: this.current, forMs: now - this.since, publishesFailed: this.publishesFailed };
    if (this.current === "up") this.onOutage();
    if (next === "up") this.logger?.warn("broker link is up again", fields);
    else this.logger?.warn(`broker link is ${next}; readiness is off until it is back`, fields);
    this.current = next;
    this.since = now;
    this.publishesFailed = 0;
  }
}

/** A Redis URL without its password, for logs. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return "(unparsable URL)";
  }
}
