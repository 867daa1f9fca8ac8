/**
 * The client's connection states and the events it emits about them, with the listener registry
 * behind `client.on(...)`.
 * @module
 */
import type { RpcError } from "../shared/errors.ts";

/**
 * Where the client is in its life. "closed" and "unauthorized" are final: the first after `close()`,
 * a server's 1000 close or the last reconnect attempt; the second when the server refused the
 * credentials (close 4401 / 4403, or 4003 once `refreshAuth` gave up).
 */
export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed" | "unauthorized";

/** Which transport carries a connection: a WebSocket, or the HTTP fallback's stream and POSTs. */
export type TransportKind = "websocket" | "http";

/** Why the state changed: the close that caused it (code and reason), and the typed error of a refusal. */
export interface StateChange {
  /** The close frame's reason, or the client's own words ("connected", "client closed", "idle"…). */
  reason: string;
  /** The close code that caused the change (PROTOCOL.md, section 8; 1006 when the socket dropped). */
  code?: number | undefined;
  /** Set on "unauthorized": UNAUTHORIZED or FORBIDDEN, with the server's message. */
  error?: RpcError | undefined;
  /**
   * Set on "open" when the socket names its transport, as the HTTP fallback's does
   * (`@tether/rpc/client/http`): "websocket" or "http". Undefined with a plain WebSocket.
   */
  transport?: TransportKind | undefined;
}

/** Events a client emits, each with its listener's arguments. */
export interface ClientEvents {
  /** The connection state changed, and why. */
  state: [state: ConnectionState, change: StateChange];
  /** The socket came back after a drop; subscriptions are being resubscribed. */
  reconnect: [info: { attempt: number }];
}

/**
 * The listeners of one client's events.
 * @internal
 */
export interface EventListeners {
  /** Calls every listener of `event` with its arguments. */
  emit<E extends keyof ClientEvents>(event: E, ...args: ClientEvents[E]): void;
  /** Adds a listener; returns the function that removes it. */
  on<E extends keyof ClientEvents>(event: E, listener: (...args: ClientEvents[E]) => void): () => void;
}

type Listener = (...args: never) => void;

/**
 * Creates an empty listener registry.
 * @internal
 */
export function createEventListeners(): EventListeners {
  const listeners = new Map<keyof ClientEvents, Set<Listener>>();
  return {
    emit(event, ...args) {
      for (const fn of listeners.get(event) ?? []) (fn as (...a: typeof args) => void)(...args);
    },
    on(event, listener) {
      let set = listeners.get(event);
      if (set === undefined) listeners.set(event, (set = new Set()));
      set.add(listener as Listener);
      return () => set.delete(listener as Listener);
    },
  };
}
