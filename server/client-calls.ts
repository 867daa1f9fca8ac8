/**
 * Calls from the server to a client: the procedures of the contract's `client` section, run by the
 * client's implementations (`createClient(url, { implement })`). The server sends a `call` frame
 * with an id of its own, the client answers `result` or `error`, the server sends `cancel` when it
 * stops waiting (PROTOCOL.md section 3.1). A connection held by another instance is reached through
 * the broker's client-call relay (Redis). Every call settles: with the client's answer, TIMEOUT,
 * CANCELLED, or DISCONNECTED when the connection closes first.
 * @module
 */
import * as v from "valibot";
import { decode, encodeText, type Payload } from "../shared/codec.ts";
import type { AnyProcedure } from "../shared/contract.ts";
import type { CallInput, CallOutput } from "../shared/contract-types.ts";
import { type ErrorCode, RpcError } from "../shared/errors.ts";
import type { ClientAnswer, ClientCallRelay } from "./broker/broker.ts";
import type { Connection } from "./connection.ts";
import { checkDeclared } from "./declared-errors.ts";
import { toIssues } from "./error-frame.ts";
import type { Logger } from "./log.ts";

/** Options of one server-to-client call. */
export interface ClientCallOptions {
  /** Milliseconds before the call rejects with TIMEOUT (the client is sent a `cancel`). @default the service's `callTimeout` (30000) */
  timeout?: number;
  /** Aborting it rejects the call with CANCELLED (or the reason, when it is an RpcError) and sends the client a `cancel`. */
  signal?: AbortSignal;
}

/**
 * One client procedure as the server calls it: rejects with an RpcError whose code is one the
 * procedure declared (data validated) or a protocol code: NOT_FOUND (the client does not implement
 * it), TIMEOUT, CANCELLED, DISCONNECTED, BAD_REQUEST (an answer that breaks the contract), INTERNAL.
 * @throws {TypeError} (as a rejection) when the input fails the procedure's schema: a server bug
 */
export type ClientProcedureCaller<P extends AnyProcedure> = undefined extends CallInput<P>
  ? (input?: CallInput<P>, options?: ClientCallOptions) => Promise<CallOutput<P>>
  : (input: CallInput<P>, options?: ClientCallOptions) => Promise<CallOutput<P>>;

/** The procedures of a contract's `client` section, callable on one connection: `ctx.client.confirm(input)`. */
export type ClientCaller<S> = {
  readonly [K in keyof S]: S[K] extends AnyProcedure ? ClientProcedureCaller<S[K]> : ClientCaller<S[K]>;
};

/** The calls a connection of this instance has not had answered yet, and the id of the last one. */
interface Asked {
  last: number;
  pending: Map<number, (answer: ClientAnswer) => void>;
}

/** What the client calls need from the service. */
export interface ClientCallParts {
  /** The contract's client procedures by path (`clientProcedures`). */
  procedures: ReadonlyMap<string, AnyProcedure>;
  /** This instance's live connections. */
  connections: ReadonlyMap<string, Connection<unknown>>;
  /** Default milliseconds a call waits (the service's `callTimeout`). */
  timeout: number;
  /** Calls a connection may have waiting at once (the `maxInFlight` limit, as for the client's calls). */
  maxPending: number;
  logger: Logger;
  /** The broker's relay to other instances; absent, only this instance's connections are reached. */
  relay: ClientCallRelay | undefined;
}

/** An error answer built on the server. */
const failed = (code: ErrorCode, message: string): ClientAnswer => ({ ok: false, code, message });

/** The service's server-to-client calls: the typed callers, the frames, the answers. */
export class ClientCalls {
  readonly #asked = new WeakMap<Connection<unknown>, Asked>();

  constructor(private readonly parts: ClientCallParts) {
    parts.relay?.listen((call, signal) => {
      const conn = parts.connections.get(call.connection);
      return conn === undefined ? undefined : this.ask(conn, call.method, call.input, call.timeout, signal);
    }).catch((error) => parts.logger.warn("client calls from other instances cannot be received", { error: String(error) }));
  }

  /** The typed caller of one connection's client procedures; the connection may be on any instance. */
  caller(connectionId: string): unknown {
    const node = (path: string): unknown =>
      new Proxy(() => {}, {
        get: (_, prop) => (typeof prop !== "string" || prop === "then" ? undefined : node(path === "" ? prop : `${path}.${prop}`)),
        apply: (_, __, args: unknown[]) => this.call(connectionId, path, args[0], args[1] as ClientCallOptions | undefined),
      });
    return node("");
  }

  /** Validates the input, asks the connection's client (here or on another instance) and checks its answer. */
  async call(connectionId: string, method: string, input: unknown, options: ClientCallOptions = {}): Promise<unknown> {
    const def = this.parts.procedures.get(method);
    if (def === undefined) throw new TypeError(`Cannot call "${method}" on the client: the contract's client section has no such procedure`);
    if (def.input !== undefined) {
      const parsed = v.safeParse(def.input, input);
      if (!parsed.success) throw new TypeError(`Cannot call "${method}" on the client: input failed validation: ${parsed.issues[0].message}`);
    }
    // Sent as given, as a client sends a call: the receiving side validates it and applies the schema's transforms.
    const text = encodeText(input);
    const { signal } = options;
    const timeout = options.timeout ?? this.parts.timeout;
    if (signal?.aborted === true) throw abortError(signal.reason);
    const conn = this.parts.connections.get(connectionId);
    const gone = failed("DISCONNECTED", `Cannot call "${method}" on the client: connection ${connectionId} is not open`);
    let answer: ClientAnswer;
    if (conn !== undefined) answer = await this.ask(conn, method, text, timeout, signal);
    else if (this.parts.relay === undefined) answer = gone;
    else {
      answer = (await this.parts.relay.call({ connection: connectionId, method, input: text, timeout }, signal)) ?? gone;
      // The relay answers CANCELLED; the caller's own reason wins, as on this instance.
      if (isAborted(signal)) throw abortError(signal?.reason);
    }
    return this.accept(def, method, answer);
  }

  /**
   * Sends a call frame to a connection of this instance; resolves (never rejects) with the client's
   * answer, or with TIMEOUT, CANCELLED or DISCONNECTED built here.
   * @param input the input's payload as JSON text
   */
  ask(conn: Connection<unknown>, method: string, input: string, timeout: number, signal?: AbortSignal): Promise<ClientAnswer> {
    if (!conn.open) return Promise.resolve(failed("DISCONNECTED", `Cannot call "${method}" on the client: connection closed`));
    const asked = this.askedOf(conn);
    if (asked.pending.size >= this.parts.maxPending) {
      return Promise.resolve(failed("TOO_MANY_REQUESTS", `Cannot call "${method}" on the client: ${this.parts.maxPending} calls already wait for it`));
    }
    const id = ++asked.last;
    return new Promise((resolve) => {
      const finish = (answer: ClientAnswer, cancel: boolean) => {
        if (!asked.pending.delete(id)) return;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (cancel) conn.send(`{"type":"cancel","id":${id}}`);
        resolve(answer);
      };
      const onAbort = () => {
        const error = abortError(signal?.reason);
        finish(failed(error.code, error.message), true);
      };
      const timer = setTimeout(() => finish(failed("TIMEOUT", `Client call "${method}" took longer than ${timeout} ms`), true), timeout);
      asked.pending.set(id, (answer) => finish(answer, false));
      signal?.addEventListener("abort", onAbort, { once: true });
      if (!conn.send(`{"type":"call","id":${id},"method":${JSON.stringify(method)},"input":${input}}`)) {
        finish(failed("DISCONNECTED", `Cannot call "${method}" on the client: connection closed`), false);
      }
    });
  }

  /** A client's `result` or `error` frame: settles the call it names; an answer that comes too late (after a timeout or cancel) is dropped. */
  answered(conn: Connection<unknown>, frame: { type: "result"; id: number; output?: Payload | undefined } | { type: "error"; id: number; code: string; message: string; data?: Payload | undefined }): void {
    const settle = this.#asked.get(conn)?.pending.get(frame.id);
    if (settle === undefined) return;
    settle(frame.type === "result" ? { ok: true, output: frame.output } : { ok: false, code: frame.code, message: frame.message, data: frame.data });
  }

  /** A connection's pending calls, created on its first call with a listener that fails them all when it closes. */
  private askedOf(conn: Connection<unknown>): Asked {
    let asked = this.#asked.get(conn);
    if (asked !== undefined) return asked;
    const created: Asked = (asked = { last: 0, pending: new Map() });
    this.#asked.set(conn, created);
    conn.closed.signal.addEventListener("abort", () => {
      for (const settle of [...created.pending.values()]) settle(failed("DISCONNECTED", "Connection closed before the client answered"));
    }, { once: true });
    return created;
  }

  /** The output the answer carries, validated by the procedure's output schema; or the error it carries, checked against the declared codes. */
  private accept(def: AnyProcedure, method: string, answer: ClientAnswer): unknown {
    if (!answer.ok) {
      let data: unknown;
      try {
        data = decode(answer.data);
      } catch {
        data = undefined;
      }
      throw checkDeclared(new RpcError(answer.code, answer.message, data), def.errors, method, this.parts.logger);
    }
    let output: unknown;
    try {
      output = decode(answer.output);
    } catch {
      throw new RpcError("BAD_REQUEST", `Client answered "${method}" with a payload that cannot be decoded`);
    }
    if (def.output === undefined) return output;
    const checked = v.safeParse(def.output, output);
    if (checked.success) return checked.output;
    this.parts.logger.warn("client answered with an invalid output", { method, issue: checked.issues[0].message });
    throw new RpcError("BAD_REQUEST", `Client answered "${method}" with an output that failed validation`, { issues: toIssues(checked.issues) });
  }
}

/** Whether a signal is aborted (read through a call: the compiler keeps no narrowing across the awaits before it). */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/** The RpcError an aborted call rejects with: the signal's reason when it is one, else CANCELLED. */
function abortError(reason: unknown): RpcError {
  return reason instanceof RpcError ? reason : new RpcError("CANCELLED", "Client call cancelled by the server");
}
