/**
 * A call's abort controller that creates the real AbortController only when its signal is read.
 * Most calls answer in the turn they arrive and nobody reads the signal; on Bun, constructing an
 * AbortController per call was the largest single cost of a small call (bench/, profile of RPC
 * throughput). Structurally it is an AbortController, so `conn.inflight` keeps its type.
 * @module
 */

/** Aborts one call; `signal` is created on first read (already aborted if the call was). */
export class CallAbort {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  /** The call's signal, as handlers see it in `ctx.signal`. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Aborts the call; the first reason wins, as with AbortController. */
  abort(reason?: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}
