/**
 * Idempotent retries: a call the client marked retry-safe carries an idempotency key; a repeat of
 * the key within the window gets the first run's outcome instead of running the handler again.
 * @module
 */

interface Entry {
  at: number;
  outcome: Promise<unknown>;
  /** The run failed because its call was aborted (disconnect, cancel, timeout): it does not count. */
  aborted: boolean;
}

/**
 * The outcomes of recent retry-safe calls on this instance, by key, for `windowMs`.
 * Keys are kept in memory per instance: a retry that lands on another instance runs again.
 */
export class IdempotencyCache {
  private readonly entries = new Map<string, Entry>();

  /**
   * @param windowMs how long an outcome is kept
   * @param maxEntries most outcomes kept; the oldest go first
   */
  constructor(private readonly windowMs: number, private readonly maxEntries = 10_000) {}

  /** Number of outcomes kept (for leak tests). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Runs `fn` once per key within the window and returns its outcome; a repeat while it runs or
   * after it finished shares that outcome. A run that ended because `signal` aborted is forgotten,
   * and its waiters run `fn` themselves.
   */
  run(key: string, fn: () => unknown, signal: AbortSignal): Promise<unknown> {
    const now = Date.now();
    this.sweep(now);
    const known = this.entries.get(key);
    if (known !== undefined) {
      return known.outcome.catch((error) => {
        if (!known.aborted) throw error;
        return this.run(key, fn, signal);
      });
    }
    let outcome: Promise<unknown>;
    try {
      outcome = Promise.resolve(fn());
    } catch (error) {
      outcome = Promise.reject(error);
    }
    const entry: Entry = { at: now, outcome, aborted: false };
    // Registered before any waiter's handler, so waiters see `aborted` already set.
    outcome.catch(() => {
      if (!signal.aborted) return;
      entry.aborted = true;
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    this.entries.set(key, entry);
    return outcome;
  }

  /** Forgets every outcome. */
  clear(): void {
    this.entries.clear();
  }

  /** Drops expired outcomes and the oldest past `maxEntries`; the map is in insertion (time) order. */
  private sweep(now: number): void {
    for (const [key, entry] of this.entries) {
      if (now - entry.at <= this.windowMs && this.entries.size < this.maxEntries) break;
      this.entries.delete(key);
    }
  }
}
