/**
 * Reconnect timing: exponential backoff with full jitter, and the server's retry advice.
 * @module
 */

/** Backoff settings; delays in milliseconds. */
export interface BackoffOptions {
  /** First delay's upper bound. @default 500 */
  min: number;
  /** Largest delay's upper bound. @default 30000 */
  max: number;
  /** Growth per failed attempt. @default 2 */
  factor: number;
  /** Attempts before giving up and closing; Infinity never gives up. @default Infinity */
  maxAttempts: number;
  /** Milliseconds a connection must stay open before the attempt count resets. @default 5000 */
  stableAfter: number;
}

/** The defaults of {@link BackoffOptions}. */
export const DEFAULT_BACKOFF: BackoffOptions = { min: 500, max: 30_000, factor: 2, maxAttempts: Infinity, stableAfter: 5_000 };

/**
 * The delay before reconnect attempt `attempt` (0-based): uniform in [0, min(max, min·factor^attempt)],
 * so that many clients dropped at once spread out instead of returning together.
 */
export function backoffDelay(options: BackoffOptions, attempt: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(options.max, options.min * options.factor ** attempt));
}

/**
 * The retry delay a server advised when closing with 1001 or 1013 (reason `retry=<ms>`), spread by
 * up to another half of it, or by `spread` when that is wider (so that even `retry=0` does not bring
 * every client back in the same millisecond); undefined when there is no advice.
 * @param spread the narrowest jitter window, in milliseconds (the client passes its backoff `min`)
 */
export function advisedDelay(code: number, reason: string, spread = 0, random: () => number = Math.random): number | undefined {
  if (code !== 1001 && code !== 1013) return undefined;
  const match = /(?:^|\s|;)retry=(\d{1,7})(?:$|\s|;)/.exec(reason);
  if (match === null) return undefined;
  const ms = Number(match[1]);
  return Math.floor(ms + random() * Math.max(ms * 0.5, spread));
}

/**
 * The pending reconnect attempt of one client: one timer at a time.
 * @internal
 */
export interface RetryTimer {
  /** Plans the next attempt in `delay` milliseconds, replacing any planned one. */
  schedule(delay: number): void;
  /** Runs the planned attempt at once; false when none was planned. */
  now(): boolean;
  /** Forgets the planned attempt. */
  cancel(): void;
}

/**
 * Creates the retry timer that calls `attempt` when its wait ends.
 * @internal
 */
export function createRetryTimer(attempt: () => void): RetryTimer {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cancel = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  const fire = () => {
    timer = undefined;
    attempt();
  };
  return {
    schedule(delay) {
      clearTimeout(timer);
      timer = setTimeout(fire, delay);
    },
    now() {
      if (timer === undefined) return false;
      cancel();
      attempt();
      return true;
    },
    cancel,
  };
}
