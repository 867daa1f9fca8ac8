/**
 * The Tether client: the one module frontends import.
 * @module
 */
export { type Client, type ClientEvents, type ConnectionState, createClient, type Result, type StateChange, type TransportKind } from "./client.ts";
export type { CallOptions, ClientOptions } from "./options.ts";
export type { ClientApi, ProcedureClient, TopicClient } from "./proxy.ts";
export type { Implementation, ImplementationContext, Implementations } from "./implementations.ts";
export { validated } from "./validated.ts";
export type { BackoffOptions } from "./reconnect.ts";
export type { PresenceView, SubscriptionHandle, SubscriptionHandlers } from "./subscription.ts";
export type { ContractTree, Procedure, Topic, TypedSchema } from "../shared/contract.ts";
export type { CallError, ClientSide, DeclaredError, ServerSide } from "../shared/contract-types.ts";
export { type ErrorCode, type Issue, RpcError } from "../shared/errors.ts";
