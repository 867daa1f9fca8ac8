/**
 * The types derived from a contract, shared by the server's handlers and the client's proxy: what a
 * caller passes and a handler receives, declared errors, topic params, messages and presence, the
 * server's and the client's sides, and dotted paths.
 * @module
 */
import type * as valibot from "valibot";
import type { ErrorCode, RpcError } from "./errors.ts";
import type { AnyProcedure, AnyTopic, CLIENT_SECTION, NoErrors, Procedure, Topic } from "./contract.ts";

/**
 * Any valibot schema (valibot's `GenericSchema`).
 * @internal
 */
type GenericSchema = valibot.GenericSchema;

/**
 * What a schema accepts (valibot's `InferInput`).
 * @internal
 */
type InferInput<S extends GenericSchema> = valibot.InferInput<S>;

/**
 * What a schema produces (valibot's `InferOutput`).
 * @internal
 */
type InferOutput<S extends GenericSchema> = valibot.InferOutput<S>;

/** The input type a caller passes to a procedure (the schema's input type). */
export type CallInput<P> = P extends Procedure<infer I, GenericSchema> ? InferInput<I> : never;
/** The input type a handler receives (the schema's output type, after transforms). */
export type HandlerInput<P> = P extends Procedure<infer I, GenericSchema> ? InferOutput<I> : never;
/** What a handler must return (the output schema's input type). */
export type HandlerOutput<P> = P extends Procedure<GenericSchema, infer O> ? InferInput<O> : never;
/** What a caller receives (the output schema's output type). */
export type CallOutput<P> = P extends Procedure<GenericSchema, infer O> ? InferOutput<O> : never;

/** The error schemas a procedure declares. */
export type ErrorsOf<P> = P extends Procedure<GenericSchema, GenericSchema, infer E> ? E : NoErrors;
/** The application error codes a procedure declares. */
export type DeclaredCode<P> = keyof ErrorsOf<P> & string;
/** A declared error as the client receives it: its code and its data (the schema's output type). */
export type DeclaredError<P> = { [K in DeclaredCode<P>]: RpcError<ErrorData<P, K>, K> & { readonly data: ErrorData<P, K> } }[DeclaredCode<P>];
/** The data of a declared error as sent (the schema's input type): what `ctx.error` takes. */
export type ErrorDataIn<P, K extends DeclaredCode<P>> = ErrorsOf<P>[K] extends GenericSchema ? InferInput<ErrorsOf<P>[K]> : never;
/** The data of a declared error as received (the schema's output type). */
export type ErrorData<P, K extends DeclaredCode<P>> = ErrorsOf<P>[K] extends GenericSchema ? InferOutput<ErrorsOf<P>[K]> : never;
/**
 * Every error a call of the procedure can reject with: its declared errors, and the protocol's
 * codes (data unknown). Narrow on `code` to get the declared data typed.
 */
export type CallError<P> = DeclaredError<P> | RpcError<unknown, ErrorCode>;

/** Params a subscriber or publisher passes (input type). */
export type TopicParamsIn<T> = T extends Topic<infer P, GenericSchema, GenericSchema> ? InferInput<P> : never;
/** Params a topic hook receives (output type). */
export type TopicParamsOut<T> = T extends Topic<infer P, GenericSchema, GenericSchema> ? InferOutput<P> : never;
/** A message as published (input type). */
export type TopicMessageIn<T> = T extends Topic<GenericSchema, infer M, GenericSchema> ? InferInput<M> : never;
/** A message as received (output type). */
export type TopicMessageOut<T> = T extends Topic<GenericSchema, infer M, GenericSchema> ? InferOutput<M> : never;
/** Presence metadata of one connection of a member. */
export type TopicPresence<T> = T extends Topic<GenericSchema, GenericSchema, infer R> ? InferOutput<R> : never;

/** The server's side of a contract: everything but its top-level `client` section. */
export type ServerSide<C> = { [K in keyof C as K extends typeof CLIENT_SECTION ? never : K]: C[K] };

/** A contract's `client` section: the procedures the client implements (none when absent). */
export type ClientSide<C> = C extends { readonly client: infer S } ? S : Record<never, never>;

/**
 * Two path segments joined by a dot.
 * @internal
 */
type Join<A extends string, B extends string> = A extends "" ? B : `${A}.${B}`;

/** Every dotted path of a contract whose entry extends `Kind`. */
export type PathsOf<C, Kind, Prefix extends string = ""> = {
  [K in keyof C & string]: Prefix extends "" ? K extends typeof CLIENT_SECTION ? never : PathStep<C, K, Kind, Prefix> : PathStep<C, K, Kind, Prefix>;
}[keyof C & string];

/**
 * The paths one key of a namespace contributes to {@link PathsOf}.
 * @internal
 */
type PathStep<C, K extends keyof C & string, Kind, Prefix extends string> = C[K] extends Kind ? Join<Prefix, K>
    : C[K] extends AnyProcedure | AnyTopic ? never
    : PathsOf<C[K], Kind, Join<Prefix, K>>;

/** The entry of a contract at a dotted path. */
export type EntryAt<C, Path extends string> = Path extends `${infer Head}.${infer Rest}`
  ? Head extends keyof C ? EntryAt<C[Head], Rest> : never
  : Path extends keyof C ? C[Path] : never;
