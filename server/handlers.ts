/**
 * The types an application writes against: handlers, topic hooks, middleware and their context.
 * @module
 */
import type { RpcError } from "../shared/errors.ts";
import type { ClientCaller } from "./client-calls.ts";
import type { Target } from "./target.ts";
import type { AnyProcedure, AnyTopic } from "../shared/contract.ts";
import type {
  ClientSide,
  DeclaredCode,
  ErrorDataIn,
  EntryAt,
  HandlerInput,
  HandlerOutput,
  PathsOf,
  ServerSide,
  TopicMessageIn,
  TopicParamsIn,
  TopicParamsOut,
  TopicPresence,
} from "../shared/contract-types.ts";

/** The publish API, typed by the contract; on the service and on every handler context. */
export interface Publisher<C> {
  /**
   * Validates `message` against the topic's schema and sends it to the topic instance named by `params`.
   * The promise settles once the broker took the message (at once in memory) and rejects with an
   * `INTERNAL` RpcError when it did not (Redis unreachable or stalled): nobody will receive it.
   * Await it (or return it) where the caller must learn of that; a publish nobody awaits fails
   * without an unhandled rejection, counted in `tether_broker_publish_failed_total` and logged.
   * @throws {TypeError} when the topic is unknown, or params or message fail validation (a server bug)
   */
  publish<P extends PathsOf<C, AnyTopic>>(
    topic: P,
    params: TopicParamsIn<EntryAt<C, P>>,
    message: TopicMessageIn<EntryAt<C, P>>,
    target?: Target,
  ): Promise<void>;
}

/** What every handler and hook receives about the connection it serves. */
export interface Context<C, A> extends Publisher<C> {
  /** The connection's id, as announced in its hello. */
  readonly connectionId: string;
  /** What `authenticate` returned at the handshake (or after in-band re-authentication). */
  readonly auth: A;
  /** Aborted when the call is cancelled, times out, or the connection closes. */
  readonly signal: AbortSignal;
  /** Adds this connection to a room (`socket.join`). */
  join(room: string): void;
  /** Removes this connection from a room (`socket.leave`). */
  leave(room: string): void;
  /** The rooms this connection is in. */
  rooms(): ReadonlySet<string>;
  /**
   * Calls a procedure of the contract's `client` section on this connection (Socket.IO's
   * `socket.emitWithAck`): `await ctx.client.confirm(input, { timeout, signal })`.
   */
  readonly client: ClientCaller<ClientSide<C>>;
  /**
   * Publishes to every subscriber of the instance but this connection (`socket.broadcast.emit`);
   * settles like `publish`. `options.volatile` drops rather than queues (see {@link Target.volatile}).
   */
  broadcast<P extends PathsOf<C, AnyTopic>>(
    topic: P,
    params: TopicParamsIn<EntryAt<C, P>>,
    message: TopicMessageIn<EntryAt<C, P>>,
    options?: { volatile?: boolean },
  ): Promise<void>;
}

/** What a procedure's handler receives: the context, and a typed way to fail with a declared error. */
export interface ProcedureContext<P extends AnyProcedure, C, A> extends Context<C, A> {
  /**
   * An error the procedure declared, to throw: `throw ctx.error("OUT_OF_STOCK", "Only 2 left", { left: 2 })`.
   * The server validates `data` against the declared schema before sending it (INTERNAL if it fails).
   */
  error<K extends DeclaredCode<P>>(code: K, message: string, data: ErrorDataIn<P, K>): RpcError<ErrorDataIn<P, K>, K>;
}

/** The function that answers one procedure. */
export type ProcedureHandler<P extends AnyProcedure, C, A> = (
  input: HandlerInput<P>,
  ctx: ProcedureContext<P, C, A>,
) => HandlerOutput<P> | Promise<HandlerOutput<P>>;

/** What a presence hook returns: the member key (one per user, shared by their tabs) and metadata. */
export interface PresenceEntry<Meta> {
  /** Identifies the member; several connections (tabs) may share it. */
  key: string;
  /** This connection's metadata, validated by the topic's presence schema. */
  meta: Meta;
}

/** Optional server-side hooks of one topic. */
export interface TopicHooks<T extends AnyTopic, C, A> {
  /** Decides whether this connection may subscribe with these params; false answers FORBIDDEN. */
  authorize?(params: TopicParamsOut<T>, ctx: Context<C, A>): boolean | Promise<boolean>;
  /** Runs after a subscription is live (join rooms, publish a greeting…). */
  onSubscribe?(params: TopicParamsOut<T>, ctx: Context<C, A>): void | Promise<void>;
  /** Runs when a subscription ends, by unsubscribe or disconnect. */
  onUnsubscribe?(params: TopicParamsOut<T>, ctx: Context<C, A>): void;
  /** Tracks this subscriber in the topic instance's presence; return undefined to stay invisible. */
  presence?(params: TopicParamsOut<T>, ctx: Context<C, A>): PresenceEntry<TopicPresence<T>> | undefined;
  /**
   * Decides whether a client may publish this message (topics with `clientPublish`); false answers
   * FORBIDDEN. The message reaches every other subscriber of the instance.
   */
  authorizePublish?(params: TopicParamsOut<T>, message: TopicMessageIn<T>, ctx: Context<C, A>): boolean | Promise<boolean>;
}

/**
 * Keys that must have handlers: procedures, and namespaces holding at least one procedure.
 * @internal
 */
type RequiredKeys<T> = {
  [K in keyof T]: T[K] extends AnyProcedure ? K
    : T[K] extends AnyTopic ? never
    : [PathsOf<T[K], AnyProcedure>] extends [never] ? never
    : K;
}[keyof T];

/** The handler tree for a contract: every procedure required, topic hooks optional; its `client` section is the client's to implement. */
export type Handlers<T, C = T, A = unknown> = HandlerTree<ServerSide<T>, C, A>;

/**
 * The handlers of one namespace.
 * @internal
 */
type HandlerTree<T, C, A> =
  & {
    [K in RequiredKeys<T>]: T[K] extends AnyProcedure ? ProcedureHandler<T[K], C, A> : HandlerTree<T[K], C, A>;
  }
  & {
    [K in Exclude<keyof T, RequiredKeys<T>>]?: T[K] extends AnyTopic ? TopicHooks<T[K], C, A> : HandlerTree<T[K], C, A>;
  };

/** One call, subscribe or publish as middleware sees it. */
export interface MiddlewareCall<C, A> {
  /** What is being done. */
  kind: "call" | "subscribe" | "publish";
  /** The dotted procedure or topic name. */
  path: string;
  /** The validated input, params (subscribe) or message (publish). */
  input: unknown;
  /** The context the handler will get. */
  ctx: Context<C, A>;
}

/** Runs around calls, subscribes and publishes in a namespace; call `next()` to go on, throw to refuse. */
export type Middleware<C, A> = (call: MiddlewareCall<C, A>, next: () => Promise<unknown>) => Promise<unknown>;
