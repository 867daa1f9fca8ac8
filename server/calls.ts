/**
 * One call from frame to answer: lookup, input validation, middleware, timeout, cancel, output.
 * @module
 */
import * as v from "valibot";
import { decode, encodeText } from "../shared/codec.ts";
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

/** Runs one call frame; exactly one result or error frame answers it. */
export function runCall<A>(core: Core<A>, conn: Connection<A>, frame: v.InferOutput<typeof CallFrame>): void {
  const { id, method } = frame;
  const proc = core.procedures.get(method);
  // Metrics label only contract paths: a client cannot grow the label set with made-up names.
  const label = proc === undefined ? "(unknown)" : method;
  const refuse = (code: ErrorCode, message: string, issues?: Issue[]) => {
    core.metrics.call(label, code);
    conn.send(simpleErrorFrame(id, code, message, issues));
  };
  if (idInUse(conn as Connection, id)) {
    core.metrics.call(label, "DUPLICATE_ID");
    return void conn.send(duplicateIdFrame(id));
  }
  if (conn.inflight.size >= core.options.limits.maxInFlight) {
    return refuse("TOO_MANY_REQUESTS", `Too many calls in flight (at most ${core.options.limits.maxInFlight})`);
  }
  if (proc === undefined) return refuse("NOT_FOUND", `Unknown procedure "${method}"`);
  let input: unknown;
  try {
    input = decode(frame.input);
  } catch {
    return refuse("BAD_REQUEST", `Cannot call "${method}": input is not a valid superjson payload`);
  }
  if (proc.def.input !== undefined) {
    const parsed = v.safeParse(proc.def.input, input);
    if (!parsed.success) return refuse("INVALID_INPUT", `Cannot call "${method}": input failed validation`, toIssues(parsed.issues));
    input = parsed.output;
  }

  const abort = new LazyAbort();
  const started = performance.now();
  const done = (outcome: string) => core.metrics.call(method, outcome, (performance.now() - started) / 1000);
  conn.inflight.set(id, abort);
  let timer: ReturnType<typeof setTimeout> | undefined;
  // A timeout or cancel answers at once; whatever the handler returns later is dropped.
  const onAbort = () => {
    clearTimeout(timer);
    if (conn.inflight.get(id) !== abort) return;
    conn.inflight.delete(id);
    done(abort.signal.reason instanceof RpcError ? abort.signal.reason.code : "INTERNAL");
    conn.send(errorFrame(id, abort.signal.reason, core.options.dev));
  };

  const ctx = new CallContext<ContractTree, A>(conn, core.rooms, core.publisher, abort);
  const chain = core.chain(method);
  const invoke = () => proc.handler(input, ctx as never);
  const once = chain.length === 0 ? invoke : () => through(chain, { kind: "call", path: method, input, ctx }, invoke);
  // A retry-safe call repeated with its idempotency key gets the first run's outcome.
  const key = frame.idempotencyKey;
  const run = key === undefined ? once : () => core.idempotency.run(`${method}\n${key}`, once, abort.signal);

  const onOutput = (output: unknown) => {
    if (!settle(conn, id, abort, timer)) return;
    if (proc.def.output !== undefined) {
      const checked = v.safeParse(proc.def.output, output);
      if (!checked.success) {
        done("INTERNAL");
        core.logger.warn("procedure returned an invalid output", { method, issue: checked.issues[0].message });
        const detail = core.options.dev ? `: ${checked.issues[0].message}` : "";
        conn.send(simpleErrorFrame(id, "INTERNAL", `Procedure "${method}" returned an invalid output${detail}`));
        return;
      }
      output = checked.output;
    }
    let text: string;
    try {
      text = encodeText(output);
    } catch (error) {
      // superjson refuses some values (keys named "constructor"…): answer INTERNAL, never an unhandled rejection.
      done("INTERNAL");
      core.logger.warn("procedure output cannot be encoded", { method, error: error instanceof Error ? error.message : String(error) });
      conn.send(simpleErrorFrame(id, "INTERNAL", `Procedure "${method}" returned a value that cannot be encoded`));
      return;
    }
    done("ok");
    conn.send(`{"type":"result","id":${JSON.stringify(id)},"output":${text}}`);
  };
  const onError = (thrown: unknown) => {
    if (!settle(conn, id, abort, timer)) return;
    const error = checkDeclared(thrown, proc.def.errors, method, core.logger);
    done(error instanceof RpcError ? error.code : "INTERNAL");
    if (!(error instanceof RpcError)) core.logger.warn("procedure threw", { method, error: error instanceof Error ? error.message : String(error) });
    conn.send(errorFrame(id, error, core.options.dev, true));
  };

  let answer: unknown;
  try {
    answer = run();
  } catch (error) {
    answer = Promise.reject(error);
  }
  // A plain value is answered now: only a pending answer needs a timer and a cancel listener
  // (a timer per call costs more than a whole small call on Deno; see bench/).
  if (typeof (answer as PromiseLike<unknown> | null)?.then !== "function") return onOutput(answer);
  if (!abort.signal.aborted) {
    timer = setTimeout(
      () => abort.abort(new RpcError("TIMEOUT", `Call "${method}" took longer than ${core.options.callTimeout} ms`)),
      core.options.callTimeout,
    );
    abort.signal.addEventListener("abort", onAbort, { once: true });
  }
  (answer as PromiseLike<unknown>).then(onOutput, onError);
}

/** Marks a call finished; false when a timeout or cancel already answered it. */
function settle(conn: Connection, id: string | number, abort: AbortController, timer: ReturnType<typeof setTimeout> | undefined): boolean {
  if (conn.inflight.get(id) !== abort) return false;
  conn.inflight.delete(id);
  if (timer !== undefined) clearTimeout(timer);
  return conn.open;
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
