/**
 * The client's side of server-to-client calls: runs the implementations given to `createClient`
 * for the server's `call` frames, answers each with `result` or `error`, and aborts one on the
 * server's `cancel` or when the connection drops (PROTOCOL.md section 3.1).
 * @module
 */
import { decode, encode } from "../shared/codec.ts";
import type { AnyProcedure } from "../shared/contract.ts";
import type { CallInput, HandlerOutput } from "../shared/contract-types.ts";
import { RpcError } from "../shared/errors.ts";
import type { ServerCallFrame } from "../shared/protocol.ts";

/** What an implementation receives beside its input. */
export interface ImplementationContext {
  /** Aborted when the server stops waiting (its timeout or cancel) or the connection drops. */
  signal: AbortSignal;
}

/**
 * The client's implementation of one procedure the server calls: it receives the input as the
 * server sent it (the schema's input type; wrap it in `validated` to have the schema check and
 * transform it first) and returns the output, which the server validates; throwing an RpcError
 * with a code the procedure declared sends that error, anything else thrown is answered INTERNAL.
 */
export type Implementation<P extends AnyProcedure> = (input: CallInput<P>, ctx: ImplementationContext) => HandlerOutput<P> | Promise<HandlerOutput<P>>;

/** Implementations of every procedure of a contract's `client` section (see `ClientOptions.implement`). */
export type Implementations<S> = {
  [K in keyof S]: S[K] extends AnyProcedure ? Implementation<S[K]> : Implementations<S[K]>;
};

/** The server's calls running on this client: `call` starts one, `cancel` and `disconnected` abort them. */
export interface Served {
  /** Runs a `call` frame's procedure and sends its answer (NOT_FOUND when it is not implemented). */
  call(frame: ServerCallFrame): void;
  /** Aborts the call with this id; its answer is not sent. */
  cancel(id: number): void;
  /** Aborts every call: their answers would name ids of a connection that is gone. */
  disconnected(): void;
}

/**
 * Serves the server's calls with `implement`.
 * @param send writes a frame on the current socket (false when there is none)
 */
export function createImplementations(implement: object | undefined, send: (text: string) => boolean): Served {
  const running = new Map<number, AbortController>();
  const cancel = (id: number) => {
    running.get(id)?.abort();
    running.delete(id);
  };
  return {
    call({ id, method, input }) {
      const controller = new AbortController();
      running.set(id, controller);
      let fn: unknown = implement;
      for (const part of method.split(".")) fn = fn && Object.hasOwn(fn, part) ? (fn as Record<string, unknown>)[part] : undefined;
      new Promise((resolve) => resolve((fn as (input: unknown, ctx: ImplementationContext) => unknown)(decode(input, true), controller)))
        .then((output) => ({ type: "result", id, output: encode(output) }))
        .catch((e) => ({
          type: "error",
          id,
          ...(typeof fn != "function"
            ? { code: "NOT_FOUND", message: `The client does not implement "${method}"` }
            : e instanceof RpcError
            ? { code: e.code, message: e.message, data: encode(e.data) }
            : { code: "INTERNAL", message: `The client failed to run "${method}"` }),
        }))
        .then((frame) => running.delete(id) && send(JSON.stringify(frame)));
    },
    cancel,
    disconnected: () => running.forEach((_, id) => cancel(id)),
  };
}
