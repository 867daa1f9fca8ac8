/**
 * The contract: procedures and topics typed by valibot schemas, nested into namespaces, and the
 * walk over its entries (paths, name checks). The server implements it; the client imports only
 * its type; the types derived from it are in contract-types.ts.
 * @module
 */
import type * as valibot from "valibot";
import { APP_ERROR_CODE, isProtocolCode } from "./errors.ts";

/**
 * Any valibot schema from `In` to `Out` (valibot's `GenericSchema`): what contract entries take.
 * @internal
 */
type GenericSchema<In = unknown, Out = In> = valibot.GenericSchema<In, Out>;

/** How a topic treats a subscriber that reads too slowly (see README, "Limits"). */
export type SlowConsumerPolicy = "drop-oldest" | "keep-latest" | "disconnect";

/** The error codes a procedure declares, each with the schema of its data (`errors` in {@link procedure}). */
export type ErrorSchemas = Readonly<Record<string, GenericSchema>>;

/** No declared errors: the procedure fails only with the protocol's codes. */
export type NoErrors = Readonly<Record<never, GenericSchema>>;

/** A procedure: a call with an input schema, an output schema and the errors it declares. */
export interface Procedure<
  I extends GenericSchema = GenericSchema,
  O extends GenericSchema = GenericSchema,
  E extends ErrorSchemas = NoErrors,
> {
  /** Marks the entry as a procedure. */
  readonly "~kind": "procedure";
  /** Validates what the client sends; the handler receives its output type. */
  readonly input: I | undefined;
  /** Validates what the handler returns; the client receives its output type. */
  readonly output: O | undefined;
  /** The application error codes it may fail with, each validating its data before it is sent. */
  readonly errors: E | undefined;
  /** Shown in generated docs and the AsyncAPI document. */
  readonly description: string | undefined;
}

/**
 * A schema slot known only by its types: what a sender passes (`In`) and what a receiver gets
 * (`Out`). Generated clients describe a contract with it, so they need no schema library.
 */
export type TypedSchema<In, Out = In> = GenericSchema<In, Out>;

/** Retention of a topic instance's recent messages, for clients that reconnect. */
export interface HistoryOptions {
  /** Messages kept per topic instance. @default 100 */
  size?: number;
  /** Milliseconds a message is kept. @default 300000 (5 minutes) */
  maxAge?: number;
}

/** A topic: a stream of messages, one instance per distinct params value. */
export interface Topic<
  P extends GenericSchema = GenericSchema,
  M extends GenericSchema = GenericSchema,
  R extends GenericSchema = GenericSchema,
> {
  /** Marks the entry as a topic. */
  readonly "~kind": "topic";
  /** Validates subscription params; equal params name the same topic instance. */
  readonly params: P | undefined;
  /** Validates every message before it leaves the server. */
  readonly message: M;
  /** Validates presence metadata; a topic without it has no presence. */
  readonly presence: R | undefined;
  /** `"full"` pushes who is present; `"counts"` only how many (for big rooms). @default "full" */
  readonly presenceMode: "full" | "counts";
  /** History kept for recovery, or `false` for none. @default { size: 100, maxAge: 300000 } */
  readonly history: HistoryOptions | false;
  /** Whether clients may publish to it (validated, authorized, fanned out to the others). @default false */
  readonly clientPublish: boolean;
  /** What to do with a subscriber that reads too slowly. @default "disconnect" */
  readonly slowConsumer: SlowConsumerPolicy;
  /** Shown in generated docs and the AsyncAPI document. */
  readonly description: string | undefined;
}

/** Any procedure, whatever its schemas. */
// deno-lint-ignore no-explicit-any
export type AnyProcedure = Procedure<any, any, any>;
/** Any topic, whatever its schemas. */
// deno-lint-ignore no-explicit-any
export type AnyTopic = Topic<any, any, any>;

/**
 * What every contract entry has; deliberately not generic, so it never steers schema inference.
 * @internal
 */
interface ContractEntry {
  /** Whether the entry is a procedure or a topic. */
  readonly "~kind": "procedure" | "topic";
}

/** A namespace: names mapped to procedures, topics or nested namespaces. */
export interface ContractTree {
  /** A procedure, a topic or a nested namespace, by name. */
  readonly [name: string]: ContractEntry | ContractTree;
}

/**
 * The top-level key of the procedures the client implements and the server calls
 * (`client: { confirm: procedure(...) }`); only procedures and namespaces of them may sit under it.
 */
export const CLIENT_SECTION = "client";

/** Names the client proxy uses itself, so no procedure, topic or namespace may take them. */
export const RESERVED_NAMES = ["subscribe", "publish", "safe", "then", "bind", "call", "apply"] as const;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Declares a procedure. `errors` names the application error codes it may fail with (UPPER_SNAKE,
 * not a protocol code), each with the schema of its data; the handler throws them with `ctx.error`.
 * @example procedure({ input: v.object({ sku: v.string() }), output: v.object({ id: v.string() }), errors: { OUT_OF_STOCK: v.object({ left: v.number() }) } })
 */
export function procedure<
  I extends GenericSchema = GenericSchema<undefined>,
  O extends GenericSchema = GenericSchema<void>,
  const E extends ErrorSchemas = NoErrors,
>(spec: { input?: I; output?: O; errors?: E; description?: string } = {}): Procedure<I, O, E> {
  return { "~kind": "procedure", input: spec.input, output: spec.output, errors: spec.errors, description: spec.description };
}

/**
 * Declares a topic.
 * @example topic({ params: v.object({ roomId: v.string() }), message: Message, presence: v.object({ name: v.string() }) })
 */
export function topic<
  M extends GenericSchema,
  P extends GenericSchema = GenericSchema<undefined>,
  R extends GenericSchema = GenericSchema<never>,
>(spec: {
  message: M;
  params?: P;
  presence?: R;
  presenceMode?: "full" | "counts";
  history?: HistoryOptions | false;
  clientPublish?: boolean;
  slowConsumer?: SlowConsumerPolicy;
  description?: string;
}): Topic<P, M, R> {
  return {
    "~kind": "topic",
    params: spec.params,
    message: spec.message,
    presence: spec.presence,
    presenceMode: spec.presenceMode ?? "full",
    history: spec.history ?? {},
    clientPublish: spec.clientPublish ?? false,
    slowConsumer: spec.slowConsumer ?? "disconnect",
    description: spec.description,
  };
}

/**
 * Checks a contract's names and returns it unchanged, with its literal type kept for inference.
 * @throws {TypeError} when a name is not an identifier or is one of {@link RESERVED_NAMES}, or a
 *   declared error code is not UPPER_SNAKE or is one of the protocol's codes
 */
export function defineContract<const C extends ContractTree>(contract: C): C {
  flattenContract(contract);
  clientProcedures(contract);
  return contract;
}

/**
 * Every procedure of a contract's `client` section (the ones the client implements) by dotted path
 * under it (`confirm`, not `client.confirm`).
 * @throws {TypeError} when a name is not allowed or the section holds a topic
 */
export function clientProcedures(contract: ContractTree): Map<string, AnyProcedure> {
  const section = contract[CLIENT_SECTION];
  const procedures = new Map<string, AnyProcedure>();
  if (section === undefined) return procedures;
  const prefix = `${CLIENT_SECTION}.`;
  const entries = isProcedure(section) || isTopic(section) ? new Map([[CLIENT_SECTION, section]]) : flattenContract(section as ContractTree, prefix);
  for (const [path, entry] of entries) {
    if (!isProcedure(entry) || path === CLIENT_SECTION) {
      throw new TypeError(`Cannot define contract: "${path}" must be a procedure the client implements, inside the "${CLIENT_SECTION}" section`);
    }
    procedures.set(path.slice(prefix.length), entry);
  }
  return procedures;
}

/** Whether a contract entry is a procedure. */
export function isProcedure(entry: unknown): entry is AnyProcedure {
  return typeof entry === "object" && entry !== null && (entry as AnyProcedure)["~kind"] === "procedure";
}

/** Whether a contract entry is a topic. */
export function isTopic(entry: unknown): entry is AnyTopic {
  return typeof entry === "object" && entry !== null && (entry as AnyTopic)["~kind"] === "topic";
}

/**
 * Every procedure and topic the server serves, by dotted path (`chat.send`); the top-level `client`
 * section (see {@link clientProcedures}) is not part of it.
 * @throws {TypeError} when a name is not an identifier or is reserved
 */
export function flattenContract(tree: ContractTree, prefix = ""): Map<string, AnyProcedure | AnyTopic> {
  const entries = new Map<string, AnyProcedure | AnyTopic>();
  for (const [name, entry] of Object.entries(tree)) {
    if (prefix === "" && name === CLIENT_SECTION) continue;
    if (!NAME.test(name) || (RESERVED_NAMES as readonly string[]).includes(name)) {
      throw new TypeError(`Cannot define contract: "${prefix}${name}" is not an allowed name`);
    }
    const path = prefix + name;
    for (const code of Object.keys((isProcedure(entry) && entry.errors) || {})) {
      if (!APP_ERROR_CODE.test(code) || isProtocolCode(code)) {
        throw new TypeError(`Cannot define contract: "${path}" declares error code "${code}", which is not UPPER_SNAKE or is a protocol code`);
      }
    }
    if (isProcedure(entry) || isTopic(entry)) entries.set(path, entry);
    else for (const [p, e] of flattenContract(entry as ContractTree, `${path}.`)) entries.set(p, e);
  }
  return entries;
}
