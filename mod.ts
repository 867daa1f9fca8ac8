/**
 * Tether's contract builders: describe a service's procedures and topics once, with valibot
 * schemas; the server implements the contract and the client imports only its type.
 *
 * Entry points of the package: `@tether/rpc` (this one: contract and errors), `@tether/rpc/server`
 * (the service), `@tether/rpc/deno` and `@tether/rpc/bun` (the runtime adapters), `@tether/rpc/redis`
 * (scale-out on Redis), `@tether/rpc/client` (the browser-safe client) and `@tether/rpc/cli` (codegen).
 *
 * @example Define a contract
 * ```ts
 * import * as v from "valibot";
 * import { defineContract, procedure, topic } from "@tether/rpc";
 *
 * export const contract = defineContract({
 *   greet: procedure({ input: v.object({ name: v.string() }), output: v.string() }),
 *   news: topic({ message: v.object({ headline: v.string() }) }),
 * });
 * ```
 * @module
 */
export {
  type AnyProcedure,
  type AnyTopic,
  CLIENT_SECTION,
  clientProcedures,
  type ContractTree,
  defineContract,
  type ErrorSchemas,
  type HistoryOptions,
  type NoErrors,
  type Procedure,
  procedure,
  type SlowConsumerPolicy,
  type Topic,
  topic,
  type TypedSchema,
} from "./shared/contract.ts";
export type {
  CallError,
  CallInput,
  CallOutput,
  ClientSide,
  DeclaredCode,
  DeclaredError,
  EntryAt,
  ErrorData,
  ErrorDataIn,
  ErrorsOf,
  HandlerInput,
  HandlerOutput,
  PathsOf,
  ServerSide,
  TopicMessageIn,
  TopicMessageOut,
  TopicParamsIn,
  TopicParamsOut,
  TopicPresence,
} from "./shared/contract-types.ts";
export { ERROR_CODES, type ErrorCode, type Issue, RpcError } from "./shared/errors.ts";

