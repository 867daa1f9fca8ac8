/**
 * One call from frame to answer: lookup, input validation, middleware, timeout, cancel, output.
 * @module
 */
import * as v from "valibot";
import type { WireFrame } from "../shared/binary-frame.ts";
import { decode, encode, frameOf } from "../shared/codec.ts";
import { isPlainJson } from "../shared/plain-json.ts";
import type { ContractTree } from "../shared/contract.ts";
import { type ErrorCode, type Issue, RpcError } from "../shared/errors.ts";
import type { CallFrame } from "../shared/protocol.ts";
import type { Connection } from "./connection.ts";
import { LazyAbort } from "./lazy-abort.ts";
import { CallContext } from "./context.ts";
import { checkDeclared } from "./declared-errors.ts";
import { errorFrame, simpleErrorFrame, toIssues } from "./error-frame.ts";
import type { Middleware, MiddlewareCall } from "./handlers.ts";
import { duplicateIdFrame, idInUse } from "./requests.ts";
import type { Core } from "./core.ts";
import { turnNow } from "./turn-clock.ts";

/** A procedure as the core runs it. */
type Procedure<A> = Core<A>["procedures"] extends Map<string, infer P> ? P : never;

/** Runs one call frame; exactly one result or error frame answers it. */
export function runCall<A>(core: Core<A>, conn: Connection<A>, frame: v.InferOutput<typeof CallFrame>): void {
  const { id, method } = frame;
  const proc = core.procedures.get(method);
  if (idInUse(conn as Connection, id)) {
    core.metrics.call(proc === undefined ? "(unknown)" : method, "DUPLICATE_ID");
    return void conn.send(duplicateIdFrame(id));
  }
  const { maxInFlight } = core.options.limits;
  if (conn.inflight.size >= maxInFlight) {
    return refuse(core, conn, proc, frame, "TOO_MANY_REQUESTS", `Too many calls in flight (at most ${maxInFlight})`);
  }
  if (proc === undefined) return refuse(core, conn, proc, frame, "NOT_FOUND", `Unknown procedure "${method}"`);
  let input: unknown;
  try {
    input = decode(frame.input);
  } catch {
    return refuse(core, conn, proc, frame, "BAD_REQUEST", `Cannot call "${method}": input is not a valid superjson payload`);
  }
  if (proc.def.input !== undefined) {
    const parsed = v.safeParse(proc.def.input, input);
    if (!parsed.success) return refuse(core, conn, proc, frame, "INVALID_INPUT", `Cannot call "${method}": input failed validation`, toIssues(parsed.issues));
    input = parsed.output;
  }
  new RunningCall(core, conn, proc, method, id).start(input, frame.idempotencyKey);
}

/** Answers a call refused before its handler ran, and counts it (metrics label only contract paths). */
function refuse<A>(
  core: Core<A>,
  conn: Connection<A>,
  proc: Procedure<A> | undefined,
  frame: { id: string | number; method: string },
  code: ErrorCode,
  message: string,
  issues?: Issue[],
): void {
  core.metrics.call(proc === undefined ? "(unknown)" : frame.method, code);
  conn.send(simpleErrorFrame(frame.id, code, message, issues));
}

/**
 * One call from its handler's start to its answer. While its answer is pending it is the call's
 * entry in `conn.inflight` and the abort its context's signal follows: a cancel, a timeout or the
 * connection's close aborts it, which answers at once (whatever the handler returns later is
 * dropped). A handler that answers in the same turn is never entered there: no frame of its
 * connection can arrive meanwhile. One object per call, its steps on the prototype: a small
 * synchronous call allocates no closures, no timer, no AbortController and no in-flight map
 * (bench/: server CPU per call).
 */
class RunningCall<A> extends LazyAbort {
  /** When its frame was received: the turn's clock read (turn-clock.ts), shared with the receive, not one more per call. */
  private readonly started: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Set once the handler returned a pending answer: the call is in `conn.inflight` until it settles. */
  private pending = false;

  constructor(
    private readonly core: Core<A>,
    private readonly conn: Connection<A>,
    private readonly proc: Procedure<A>,
    private readonly method: string,
    private readonly id: string | number,
  ) {
    super();
    this.started = turnNow();
  }

  /** Runs the handler (through middleware and the idempotency cache, when there are any) and answers. */
  start(input: unknown, idempotencyKey: string | undefined): void {
    const { core, method } = this;
    const ctx = new CallContext<ContractTree, A>(this.conn, core.rooms, core.publisher, this);
    const chain = this.proc.chain ??= core.chain(method);
    let answer: unknown;
    try {
      if (chain.length === 0 && idempotencyKey === undefined) answer = this.proc.handler(input, ctx as never);
      else {
        const invoke = () => this.proc.handler(input, ctx as never);
        const once = chain.length === 0 ? invoke : () => through(chain, { kind: "call", path: method, input, ctx }, invoke);
        // A retry-safe call repeated with its idempotency key gets the first run's outcome.
        answer = idempotencyKey === undefined ? once() : core.idempotency.run(`${method}\n${idempotencyKey}`, once, this.signal);
      }
    } catch (error) {
      return this.fail(error);
    }
    // A plain value is answered now: only a pending answer needs a timer (a timer per call costs more than a whole small call on Deno).
    if (typeof (answer as PromiseLike<unknown> | null)?.then !== "function") return this.output(answer);
    this.conn.addCall(this.id, this);
    this.pending = true;
    // A connection released while the handler ran (it closed it itself) has aborted its calls already: this one too.
    if (this.conn.closed.aborted) this.abort(new RpcError("DISCONNECTED", "Connection closed"));
    if (!this.aborted) this.timer = setTimeout(() => this.abort(this.timeoutError()), core.options.callTimeout);
    (answer as PromiseLike<unknown>).then((output) => this.output(output), (error) => this.fail(error));
  }

  /** Aborts the call (cancel, timeout, close) and answers its reason at once, if it was not answered yet. */
  override abort(reason?: unknown): void {
    if (this.aborted) return;
    super.abort(reason);
    clearTimeout(this.timer);
    if (this.conn.inflight.get(this.id) !== this) return;
    this.conn.deleteCall(this.id);
    this.done(reason instanceof RpcError ? reason.code : "INTERNAL");
    this.conn.send(errorFrame(this.id, reason, this.core.options.dev));
  }

  private timeoutError(): RpcError {
    return new RpcError("TIMEOUT", `Call "${this.method}" took longer than ${this.core.options.callTimeout} ms`);
  }

  private output(output: unknown): void {
    if (!this.settle()) return;
    const { core, method, id } = this;
    const schema = this.proc.def.output;
    if (schema !== undefined) {
      const checked = v.safeParse(schema, output);
      if (!checked.success) {
        this.done("INTERNAL");
        core.logger.warn("procedure returned an invalid output", { method, issue: checked.issues[0].message });
        const detail = core.options.dev ? `: ${checked.issues[0].message}` : "";
        return void this.conn.send(simpleErrorFrame(id, "INTERNAL", `Procedure "${method}" returned an invalid output${detail}`));
      }
      output = checked.output;
    }
    let frame: WireFrame;
    try {
      // One stringify of the whole frame: a flat string, where concatenated parts make the runtime join them before sending.
      // Plain JSON (most outputs) is sent as it is; binary values in others become attachments of a binary frame
      // (PROTOCOL.md section 1.1), large ones sent split.
      frame = isPlainJson(output)
        ? JSON.stringify({ type: "result", id, output: { json: output } })
        : frameOf(() => JSON.stringify({ type: "result", id, output: encode(output) }), true);
    } catch (error) {
      // A value the codec cannot carry exactly (payload-encode.ts) is refused here, at the sender, never sent changed.
      this.done("INTERNAL");
      const detail = error instanceof Error ? error.message : String(error);
      core.logger.warn("procedure output cannot be encoded", { method, error: detail });
      const shown = core.options.dev ? `: ${detail}` : "";
      return void this.conn.send(simpleErrorFrame(id, "INTERNAL", `Procedure "${method}" returned a value that cannot be encoded${shown}`));
    }
    this.done("ok");
    this.conn.send(frame);
  }

  private fail(thrown: unknown): void {
    if (!this.settle()) return;
    const { core, method } = this;
    const error = checkDeclared(thrown, this.proc.def.errors, method, core.logger);
    this.done(error instanceof RpcError ? error.code : "INTERNAL");
    if (!(error instanceof RpcError)) core.logger.warn("procedure threw", { method, error: error instanceof Error ? error.message : String(error) });
    this.conn.send(errorFrame(this.id, error, core.options.dev, true));
  }

  /** Marks the call finished; false when a timeout or cancel already answered it, or the connection closed. */
  private settle(): boolean {
    if (!this.pending) return this.settleNow();
    if (this.conn.inflight.get(this.id) !== this) return false;
    this.conn.deleteCall(this.id);
    if (this.timer !== undefined) clearTimeout(this.timer);
    return this.conn.open;
  }

  /** {@link settle} for an answer of the handler's own turn; a connection released meanwhile counts it as its calls in flight. */
  private settleNow(): boolean {
    if (this.conn.closed.aborted) this.done("DISCONNECTED");
    return this.conn.open;
  }

  /**
   * Counts the call with its latency on the monotonic clock: from its frame's turn read (turn-clock.ts)
   * to one read here, so a call costs one clock read rather than two (never negative: the clock only
   * moves on).
   */
  private done(outcome: string): void {
    this.core.metrics.call(this.method, outcome, (performance.now() - this.started) / 1000);
  }
}

/** Runs `final` inside a middleware chain, outermost namespace first. */
export function through<C, A>(
  chain: readonly Middleware<C, A>[],
  call: MiddlewareCall<C, A>,
  final: () => unknown,
): Promise<unknown> {
  const step = (i: number): Promise<unknown> => {
    const mw = chain[i];
    if (mw === undefined) return Promise.resolve(final());
    return mw(call, () => step(i + 1));
  };
  return step(0);
}
