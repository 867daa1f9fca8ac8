/**
 * Idempotent retries: a call the client marked retry-safe carries an idempotency key; a repeat of
 * the key within the window gets the first run's outcome instead of running the handler again.
 * @module
 */
import { decode, encode, type Payload } from "../shared/codec.ts";
import { type ErrorCode, RpcError } from "../shared/errors.ts";

/** What a shared store keeps of a finished call: its encoded output, or the RpcError it threw. */
export type StoredOutcome = { ok: true; output: Payload } | { ok: false; code: ErrorCode; message: string };

/** Outcomes shared between instances, so a retry that lands on another instance does not run again. */
export interface SharedOutcomes {
  /** Claims a key: `run` (this instance runs it), `pending` (another live instance is running it) or its outcome. */
  claim(key: string, windowMs: number): Promise<{ state: "run" | "pending" } | { state: "done"; outcome: StoredOutcome }>;
  /** Stores the outcome of a claimed key for `windowMs`. */
  settle(key: string, outcome: StoredOutcome, windowMs: number): Promise<void>;
  /** Gives a claimed key up (its run was aborted), so that the next retry runs it. */
  release(key: string): Promise<void>;
}

interface Entry {
  at: number;
  outcome: Promise<unknown>;
  /** The run failed because its call was aborted (disconnect, cancel, timeout): it does not count. */
  aborted: boolean;
}

/** Milliseconds between two looks at a key another instance is running. */
const PENDING_POLL = 50;

/**
 * The outcomes of recent retry-safe calls, by key, for `windowMs`: in memory on this instance, and
 * in `shared` (the Redis broker's) when there is one, for retries that land on another instance.
 */
export class IdempotencyCache {
  private readonly entries = new Map<string, Entry>();

  /**
   * @param windowMs how long an outcome is kept
   * @param shared outcomes shared with other instances, if any
   * @param maxEntries most outcomes kept in memory; the oldest go first
   */
  constructor(private readonly windowMs: number, private readonly shared?: SharedOutcomes, private readonly maxEntries = 10_000) {}

  /** Number of outcomes kept in memory (for leak tests). */
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
    const outcome = this.shared === undefined ? start(fn) : this.runShared(this.shared, key, fn, signal);
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

  /** Forgets every outcome kept in memory. */
  clear(): void {
    this.entries.clear();
  }

  private async runShared(shared: SharedOutcomes, key: string, fn: () => unknown, signal: AbortSignal): Promise<unknown> {
    for (;;) {
      let claim: Awaited<ReturnType<SharedOutcomes["claim"]>>;
      try {
        claim = await shared.claim(key, this.windowMs);
      } catch {
        // The store is unreachable: run here, as a service without a shared store would.
        return start(fn);
      }
      if (claim.state === "run") break;
      if (claim.state === "done") {
        if (claim.outcome.ok) return decode(claim.outcome.output);
        throw new RpcError(claim.outcome.code, claim.outcome.message);
      }
      if (signal.aborted) throw signal.reason;
      await new Promise((r) => setTimeout(r, PENDING_POLL));
    }
    try {
      const output = await start(fn);
      shared.settle(key, { ok: true, output: encode(output) }, this.windowMs).catch(() => {});
      return output;
    } catch (error) {
      // Only errors the handler meant (RpcError) are an outcome; an abort or a crash lets the next retry run.
      if (error instanceof RpcError && !signal.aborted) {
        shared.settle(key, { ok: false, code: error.code, message: error.message }, this.windowMs).catch(() => {});
      } else {
        shared.release(key).catch(() => {});
      }
      throw error;
    }
  }

  /** Drops expired outcomes and the oldest past `maxEntries`; the map is in insertion (time) order. */
  private sweep(now: number): void {
    for (const [key, entry] of this.entries) {
      if (now - entry.at <= this.windowMs && this.entries.size < this.maxEntries) break;
      this.entries.delete(key);
    }
  }
}

/** Calls `fn`, turning a synchronous throw into a rejection. */
function start(fn: () => unknown): Promise<unknown> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}
