// Generated from contract.ts by `tether codegen`. Do not edit: run `tether codegen --contract contract.ts --out generated --name Counter`.
/**
 * The typed client of the counter service: every procedure's input and output and every
 * topic's params, message and presence as TypeScript types, and `createCounterClient()`.
 * Self-contained: it imports the Tether client and nothing else (no server code, no schema library).
 * @module
 */
import { type Client, type ClientOptions, createClient, type Procedure, type Topic, type TypedSchema as Schema } from "@tether/rpc/client";

export { type CallOptions, type ClientOptions, type ConnectionState, type PresenceView, RpcError, type SubscriptionHandle } from "@tether/rpc/client";

/** What `counter.increment` takes: adds `by` to the counter and returns the new value */
export interface CounterIncrementInput {
  by: number;
}

/** What `counter.increment` returns: adds `by` to the counter and returns the new value */
export type CounterIncrementOutput = number;

/** What `counter.value` returns: the counter's value */
export type CounterValueOutput = number;

/** One message of `counter.changed` as received */
export interface CounterChangedMessage {
  value: number;
  by: string;
}

/** The counter service's contract as types only (no schemas): what `createClient` needs. */
export type CounterContract = {
  counter: {
    /** Adds `by` to the counter and returns the new value */
    increment: Procedure<Schema<CounterIncrementInput>, Schema<CounterIncrementOutput>>;
    /** The counter's value */
    value: Procedure<Schema<undefined>, Schema<CounterValueOutput>>;
    /** Each change, with who made it */
    changed: Topic<Schema<undefined>, Schema<CounterChangedMessage, CounterChangedMessage>, Schema<never>>;
  };
};

/** A connected client of the counter service. */
export type CounterClient = Client<CounterContract>;

/**
 * Connects to the counter service.
 * @param url the service's WebSocket URL, e.g. `ws://localhost:8080/ws`
 * @param options the client's options (reconnect, timeouts, query params, the `implement`ations the server calls); see `ClientOptions`
 * @example
 * const client = createCounterClient("ws://localhost:8080/ws");
 */
export function createCounterClient(url: string, options: ClientOptions<CounterContract> = {}): CounterClient {
  return createClient<CounterContract>(url, options);
}
