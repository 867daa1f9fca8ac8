/**
 * The service's internal state, shared by the parts that answer frames and run the connection
 * lifecycle (calls, subscriptions, dispatch, lifecycle), and the handler and middleware tables it
 * holds. Only `createService` builds it.
 * @module
 */
import { type AnyProcedure, type AnyTopic, type ContractTree, flattenContract, isTopic } from "../shared/contract.ts";
import type { Broker } from "./broker/broker.ts";
import type { ClientCalls } from "./client-calls.ts";
import type { Handlers, Middleware, Publisher, TopicHooks } from "./handlers.ts";
import type { Target } from "./target.ts";
import type { IdempotencyCache } from "./idempotency.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { ResolvedOptions } from "./options.ts";
import type { PresenceTracker } from "./presence.ts";
import type { RoomRegistry } from "./rooms.ts";
import type { TopicRegistry } from "./topics.ts";

/** Internal state shared by the service's parts (calls, subscriptions, the connection lifecycle). */
export interface Core<A> {
  options: ResolvedOptions<ContractTree, A>;
  /** Procedures by path; `chain` is the procedure's middleware, kept on first call. */
  procedures: Map<string, { def: AnyProcedure; handler: (input: unknown, ctx: never) => unknown; chain?: Middleware<ContractTree, A>[] }>;
  topics: Map<string, { def: AnyTopic; hooks: TopicHooks<AnyTopic, ContractTree, A> }>;
  chain(path: string): Middleware<ContractTree, A>[];
  registry: TopicRegistry;
  rooms: RoomRegistry;
  presence: PresenceTracker;
  broker: Broker;
  publisher: Publisher<ContractTree>;
  /** Publishes params and a message already validated (a client publish), skipping the second validation. */
  publishValid(topic: string, params: unknown, message: unknown, target: Target | undefined): Promise<void>;
  metrics: Metrics;
  logger: Logger;
  idempotency: IdempotencyCache;
  /** Server-to-client calls: their frames and the clients' answers. */
  clientCalls: ClientCalls;
}

/**
 * Pairs every contract entry with its handler (procedures) or hooks (topics).
 * @throws {TypeError} when a procedure has no handler
 */
export function bindHandlers<C extends ContractTree, A>(contract: C, handlers: Handlers<C, C, A>): {
  procedures: Core<A>["procedures"];
  topics: Map<string, { def: AnyTopic; hooks: TopicHooks<AnyTopic, C, A> }>;
} {
  const procedures: Core<A>["procedures"] = new Map();
  const topics = new Map<string, { def: AnyTopic; hooks: TopicHooks<AnyTopic, C, A> }>();
  for (const [path, def] of flattenContract(contract)) {
    let node: unknown = handlers;
    for (const part of path.split(".")) node = (node as Record<string, unknown> | undefined)?.[part];
    if (isTopic(def)) topics.set(path, { def, hooks: (node ?? {}) as TopicHooks<AnyTopic, C, A> });
    else if (typeof node === "function") procedures.set(path, { def, handler: node as (input: unknown, ctx: never) => unknown });
    else throw new TypeError(`Cannot create service: procedure "${path}" has no handler`);
  }
  return { procedures, topics };
}

/** `Core.chain`: the middleware that applies to a path (namespace "" first, then shorter namespaces before longer), built once per path. */
export function middlewareChains<A>(middleware: ResolvedOptions<ContractTree, A>["middleware"]): (path: string) => Middleware<ContractTree, A>[] {
  const chains = new Map<string, Middleware<ContractTree, A>[]>();
  return (path) => {
    let chain = chains.get(path);
    if (chain === undefined) {
      chain = Object.entries(middleware)
        .filter(([ns]) => ns === "" || path === ns || path.startsWith(`${ns}.`))
        .sort(([a], [b]) => a.length - b.length)
        .flatMap(([, list]) => list as Middleware<ContractTree, A>[]);
      chains.set(path, chain);
    }
    return chain;
  };
}
