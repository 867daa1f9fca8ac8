/**
 * The typed API object: `api.chat.send(input)`, `api.rooms.messages.subscribe(params, handlers)`.
 * A Proxy builds dotted paths at runtime; the types come from the contract alone.
 * @module
 */
import type { AnyProcedure, AnyTopic } from "../shared/contract.ts";
import type {
  CallError,
  CallInput,
  CallOutput,
  ServerSide,
  TopicMessageIn,
  TopicMessageOut,
  TopicParamsIn,
  TopicPresence,
} from "../shared/contract-types.ts";
import type { RpcError } from "../shared/errors.ts";
import type { CallOptions } from "./options.ts";
import type { SubscriptionHandle, SubscriptionHandlers } from "./subscription.ts";

/**
 * A call's arguments: the input (optional when the schema accepts undefined), then options.
 * @internal
 */
type Args<In, Rest> = undefined extends In ? [input?: In, ...rest: Rest[]] : [input: In, ...rest: Rest[]];

/**
 * A call's outcome without throwing (the `.safe` form); `E` is the procedure's `CallError`: narrow
 * `error.code` to get a declared error's `data` typed.
 */
export type Result<T, E = RpcError> = { ok: true; data: T } | { ok: false; error: E };

/** A procedure on the client: call it, or call `.safe` for a result union instead of a throw. */
export interface ProcedureClient<P extends AnyProcedure> {
  /** Calls the procedure; rejects with an RpcError (a `CallError<P>`: a declared or a protocol code). */
  (...args: Args<CallInput<P>, CallOptions>): Promise<CallOutput<P>>;
  /**
   * Calls the procedure; never rejects, returns `{ ok, data }` or `{ ok: false, error }`, where
   * `error.code` is one of the procedure's declared codes (with its `data` typed) or a protocol code.
   */
  safe(...args: Args<CallInput<P>, CallOptions>): Promise<Result<CallOutput<P>, CallError<P>>>;
}

/** A topic on the client: subscribe to an instance, or publish to it (topics with `clientPublish`). */
export interface TopicClient<T extends AnyTopic> {
  /** Subscribes to the instance named by `params`; messages go to `handlers` and the returned iterator. */
  subscribe(
    ...args: Args<TopicParamsIn<T>, SubscriptionHandlers<TopicMessageOut<T>, TopicPresence<T>>>
  ): SubscriptionHandle<TopicMessageOut<T>, TopicPresence<T>>;
  /** Publishes a message to every other subscriber of the instance. */
  publish(params: TopicParamsIn<T>, message: TopicMessageIn<T>): Promise<void>;
}

/** The client-side mirror of a contract (its `client` section is what the client implements, not calls). */
export type ClientApi<C> = ApiTree<ServerSide<C>>;

/**
 * The mirror of one namespace.
 * @internal
 */
type ApiTree<C> = {
  readonly [K in keyof C]: C[K] extends AnyProcedure ? ProcedureClient<C[K]>
    : C[K] extends AnyTopic ? TopicClient<C[K]>
    : ApiTree<C[K]>;
};

/** What the proxy forwards to. */
export interface Transport {
  call(method: string, input: unknown, options?: CallOptions): Promise<unknown>;
  subscribe(topic: string, params: unknown, handlers?: SubscriptionHandlers<unknown, unknown>): SubscriptionHandle<unknown, unknown>;
  publish(topic: string, params: unknown, message: unknown): Promise<void>;
}

/** Builds the API proxy; child proxies are cached per path. */
export function createProxy<C>(transport: Transport): ClientApi<C> {
  const cache = new Map<string, unknown>();
  const node = (path: string): unknown => {
    let proxy = cache.get(path);
    if (proxy !== undefined) return proxy;
    proxy = new Proxy(() => {}, {
      get: (_, prop) => (typeof prop !== "string" || prop === "then" ? undefined : node(path === "" ? prop : `${path}.${prop}`)),
      apply: (_, __, args: unknown[]) => dispatch(transport, path, args),
    });
    cache.set(path, proxy);
    return proxy;
  };
  return node("") as ClientApi<C>;
}

function dispatch(transport: Transport, path: string, args: unknown[]): unknown {
  const dot = path.lastIndexOf(".");
  const last = path.slice(dot + 1);
  const parent = path.slice(0, Math.max(dot, 0));
  if (last === "subscribe") return transport.subscribe(parent, args[0], args[1] as SubscriptionHandlers<unknown, unknown>);
  if (last === "publish") return transport.publish(parent, args[0], args[1]);
  if (last === "safe") {
    return transport.call(parent, args[0], args[1] as CallOptions).then(
      (data) => ({ ok: true, data }),
      (error: RpcError) => ({ ok: false, error }),
    );
  }
  return transport.call(path, args[0], args[1] as CallOptions);
}
