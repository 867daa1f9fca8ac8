/**
 * createClient: one WebSocket that heals itself, typed calls and subscriptions over it. This file is
 * the client's public face (its API object, calls and publishes as request frames); the connection
 * state machine is connection.ts, the routing of server frames frame-router.ts.
 * Browser-safe: only web-standard globals (WebSocket, setTimeout, crypto, optional window events).
 * @module
 */
import type { WireFrame } from "../shared/binary-frame.ts";
import { CloseCode } from "../shared/close-codes.ts";
import { encode, frameOf } from "../shared/codec.ts";
import type { ContractTree } from "../shared/contract.ts";
import { createConnection } from "./connection.ts";
import { type ClientEvents, type ConnectionState, createEventListeners } from "./events.ts";
import type { ClientOptions } from "./options.ts";
import { type ClientApi, createProxy } from "./proxy.ts";
import type { RequestOptions } from "./requests.ts";

export type { ClientEvents, ConnectionState, StateChange, TransportKind } from "./events.ts";
export type { Result } from "./proxy.ts";

/** A connected (or connecting) client. */
export interface Client<C extends ContractTree> {
  /** The typed API: `await client.api.chat.send({...})`, `client.api.rooms.messages.subscribe(...)`. */
  readonly api: ClientApi<C>;
  /** The current connection state. */
  readonly state: ConnectionState;
  /** Round-trip time of the last heartbeat, in milliseconds; undefined before the first. */
  readonly latency: number | undefined;
  /** The server-assigned id of the current connection. */
  readonly connectionId: string | undefined;
  /** Resolves once the connection is open (connecting first in lazy mode); rejects if closed (UNAUTHORIZED / FORBIDDEN if refused). */
  ready(): Promise<void>;
  /** Listens to an event, e.g. `on("state", (state, { code, reason }) => …)`; returns the function that stops listening. */
  on<E extends keyof ClientEvents>(event: E, listener: (...args: ClientEvents[E]) => void): () => void;
  /** Replaces the credentials of the live connection in-band; subscriptions are kept. */
  authenticate(token: string): Promise<void>;
  /** Closes for good: rejects pending calls with DISCONNECTED, ends subscriptions, stops every timer. */
  close(): void;
}

/**
 * Creates a client for a contract's type; the contract itself is never imported at runtime.
 * @param url the service's WebSocket URL, e.g. `ws://localhost:8080/ws`
 * @example
 * const client = createClient<typeof contract>("ws://localhost:8080/ws");
 * const { id } = await client.api.chat.send({ roomId: "lobby", text: "hi" });
 */
export function createClient<C extends ContractTree>(url: string, options: ClientOptions<C> = {}): Client<C> {
  const timeout = options.timeout ?? 30_000;
  const events = createEventListeners();
  const connection = createConnection(url, options, events);
  const { requests, subscriptions } = connection;

  /** Sends a request frame; `build` encodes its payloads (binary values become attachments), and a value that cannot be encoded rejects. */
  const request = (build: () => Record<string, unknown>, label: string, extra: Partial<RequestOptions> = {}) => {
    const id = requests.nextId();
    let frame: WireFrame;
    try {
      frame = frameOf(() => JSON.stringify({ ...build(), id }), true);
    } catch (error) {
      return Promise.reject(error);
    }
    return requests.request(id, frame, { timeout, retry: false, queue: true, label, ...extra });
  };

  return {
    api: createProxy<C>({
      call: (method, input, opts = {}) =>
        connection.failure ? Promise.reject(connection.failure) : request(
          () => ({ type: "call", method, input: encode(input), ...(opts.retry ? { idempotencyKey: crypto.randomUUID() } : {}) }),
          `Call "${method}"`,
          { timeout: opts.timeout ?? timeout, signal: opts.signal, retry: opts.retry ?? false },
        ),
      subscribe: (topic, params, handlers) => subscriptions.subscribe(topic, params, handlers),
      publish: (topic, params, message) =>
        request(() => ({ type: "publish", topic, params: encode(params), data: encode(message) }), `Publish to "${topic}"`) as Promise<void>,
    }),
    get state() {
      return connection.state;
    },
    get latency() {
      return connection.liveness.latency();
    },
    get connectionId() {
      return connection.connectionId;
    },
    ready: () => connection.ready(),
    on: events.on,
    authenticate: (token) => request(() => ({ type: "auth", token }), "Re-authentication", { queue: false }) as Promise<void>,
    close: () => connection.end({ code: CloseCode.NORMAL, reason: "client closed" }),
  };
}
