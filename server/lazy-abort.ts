/**
 * An abort controller that creates the real AbortController only when its signal is read.
 * Most calls answer in the turn they arrive and most connections end without anyone reading their
 * signal; on Bun an AbortController costs about half a kilobyte and its construction was the largest
 * single cost of a small call (bench/: RPC throughput profile, memory per idle connection).
 * Structurally it is an AbortController, so `conn.inflight` keeps its type.
 * @module
 */

/** The reason of an abort controller not aborted yet. */
const NOT_ABORTED: unique symbol = Symbol("not aborted");

/** Aborts one call or connection; `signal` is created on first read (already aborted if it was). */
export class LazyAbort {
  #controller: AbortController | undefined;
  /** The reason once aborted; NOT_ABORTED before (one field rather than a flag and a reason). */
  #reason: unknown = NOT_ABORTED;

  /** The signal handlers see as `ctx.signal`. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#reason !== NOT_ABORTED) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Whether it was aborted, without creating the signal. */
  get aborted(): boolean {
    return this.#reason !== NOT_ABORTED;
  }

  /** Aborts; the first reason wins, as with AbortController. */
  abort(reason?: unknown): void {
    if (this.#reason !== NOT_ABORTED) return;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}
