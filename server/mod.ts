/**
 * The Tether server: contract builders, the service, and both runtime adapters' shared types.
 * Pick a runtime by importing `server/adapters/deno.ts` or `server/adapters/bun.ts`.
 * @module
 */
export { defineContract, type HistoryOptions, procedure, type SlowConsumerPolicy, topic } from "../shared/contract.ts";
export type { ClientSide, ServerSide } from "../shared/contract-types.ts";
export { type ErrorCode, type Issue, RpcError } from "../shared/errors.ts";
export { CloseCode, type Limits, PROTOCOL_VERSION, SUBPROTOCOL } from "../shared/protocol.ts";
export { createService, type Service } from "./service.ts";
export type { ClientCallOptions, ClientCaller, ClientProcedureCaller } from "./client-calls.ts";
export { type Cluster, type ClusterConnection, ClusterTimeoutError, type Selector } from "./cluster.ts";
export { type CloseInfo, DEFAULT_LIMITS, type ServiceOptions } from "./options.ts";
export type { Context, Handlers, Middleware, MiddlewareCall, PresenceEntry, ProcedureContext, ProcedureHandler, Publisher, TopicHooks } from "./handlers.ts";
export type { Target } from "./target.ts";
export type {
  Broker,
  BrokerMessage,
  ClientAnswer,
  ClientCallRelay,
  ClusterAnswers,
  ClusterRelay,
  Deliver,
  PresenceChange,
  Recovery,
  RelayedClientCall,
  RemotePresence,
  Reset,
  SessionRelay,
  SharedPresence,
  StreamPosition,
} from "./broker/broker.ts";
export type { SharedOutcomes, StoredOutcome } from "./idempotency.ts";
export type { Payload } from "../shared/codec.ts";
export type { HeartbeatOptions } from "./heartbeat.ts";
export { createMemoryBroker } from "./broker/memory.ts";
export type { RunningServer, ServeOptions } from "./adapters/serve-options.ts";
export { createLogger, type LogFields, type Logger, type LogLevel } from "./log.ts";
export type { DocumentsOptions } from "./documents.ts";
