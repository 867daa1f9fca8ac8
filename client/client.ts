/**
 * createClient: one WebSocket that heals itself, typed calls and subscriptions over it.
 * Browser-safe: only web-standard globals (WebSocket, setTimeout, crypto, optional window events).
 * @module
 */
import { CloseCode } from "../shared/close-codes.ts";
import { unpackFrame, type WireFrame } from "../shared/binary-frame.ts";
import { decode, encode, frameOf, type Payload, readingFrame } from "../shared/codec.ts";
import type { ContractTree } from "../shared/contract.ts";
import { type ErrorCode, type Issue, RpcError } from "../shared/errors.ts";
import type { ServerFrame } from "../shared/protocol.ts";
import { SUBPROTOCOL } from "../shared/version.ts";
import { createImplementations } from "./implementations.ts";
import { createLiveness } from "./liveness.ts";
import type { ClientOptions } from "./options.ts";
import { type ClientApi, createProxy } from "./proxy.ts";
import { advisedDelay, backoffDelay, DEFAULT_BACKOFF } from "./reconnect.ts";
import { createRequests, type RequestOptions } from "./requests.ts";
import { createSubscriptions } from "./subscriptions.ts";

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

/**
 * A call's outcome without throwing (the `.safe` form); `E` is the procedure's `CallError`: narrow
 * `error.code` to get a declared error's `data` typed.
 */
export type Result<T, E = RpcError> = { ok: true; data: T } | { ok: false; error: E };

/** Events a client emits, each with its listener's arguments. */
export interface ClientEvents {
  /** The connection state changed, and why. */
  state: [state: ConnectionState, change: StateChange];
  /** The socket came back after a drop; subscriptions are being resubscribed. */
  reconnect: [info: { attempt: number }];
}

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

type Listener = (...args: never) => void;
type EventSource = Partial<Pick<EventTarget, "addEventListener" | "removeEventListener">>;

/**
 * Creates a client for a contract's type; the contract itself is never imported at runtime.
 * @param url the service's WebSocket URL, e.g. `ws://localhost:8080/ws`
 * @example
 * const client = createClient<typeof contract>("ws://localhost:8080/ws");
 * const { id } = await client.api.chat.send({ roomId: "lobby", text: "hi" });
 */
export function createClient<C extends ContractTree>(url: string, options: ClientOptions<C> = {}): Client<C> {
  const timeout = options.timeout ?? 30_000;
  const backoff = options.reconnect === false ? undefined : { ...DEFAULT_BACKOFF, ...options.reconnect };
  const connectTimeout = options.connectTimeout ?? 10_000;
  const WS = options.WebSocket ?? globalThis.WebSocket;

  let state: ConnectionState = "idle";
  let socket: WebSocket | undefined;
  let connectionId: string | undefined;
  let attempt = 0;
  let openedAt = 0;
  let connectSeq = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let helloTimer: ReturnType<typeof setTimeout> | undefined;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const listeners = new Map<keyof ClientEvents, Set<Listener>>();
  const waiters: { resolve(): void; reject(e: RpcError): void }[] = [];
  /** Why the client ended (closed or refused); undefined while it lives. */
  let failure: RpcError | undefined;
  /** Whether `refreshAuth` already ran since the last open: one refresh per refusal, never a loop. */
  let refreshed = false;

  const send = (frame: WireFrame): boolean => {
    if (socket === undefined || state !== "open" || socket.readyState !== 1) return false;
    socket.send(frame);
    return true;
  };
  const requests = createRequests(send, wake, touchIdle, options.queueSize ?? 100);
  const subscriptions = createSubscriptions(send, requests.nextId, wake, touchIdle);
  const served = createImplementations(options.implement, send);
  const liveness = createLiveness(send, (reason) => dropped(CloseCode.HEARTBEAT_TIMEOUT, reason));

  function emit<E extends keyof ClientEvents>(event: E, ...args: ClientEvents[E]): void {
    for (const fn of listeners.get(event) ?? []) (fn as (...a: ClientEvents[E]) => void)(...args);
  }

  function setState(next: ConnectionState, change: StateChange): void {
    if (state === next) return;
    state = next;
    if (next === "open") for (const w of waiters.splice(0)) w.resolve();
    emit("state", next, change);
  }

  // ---- connection lifecycle ----

  async function connect(): Promise<void> {
    const seq = ++connectSeq;
    setState(attempt === 0 && state !== "reconnecting" ? "connecting" : "reconnecting", { reason: "connect" });
    let query: string;
    try {
      query = new URLSearchParams((await options.params?.()) ?? {}).toString();
    } catch {
      // A failing params function counts as a failed attempt.
      if (seq === connectSeq) scheduleReconnect(undefined, { reason: "dial failed" });
      return;
    }
    if (seq !== connectSeq || failure) return;
    // Never two sockets at once: whatever was there is detached before dialing again.
    detach(CloseCode.NORMAL, "replaced");
    let ws: WebSocket;
    try {
      ws = new WS(query === "" ? url : `${url}${url.includes("?") ? "&" : "?"}${query}`, SUBPROTOCOL);
    } catch {
      return scheduleReconnect(undefined, { reason: "dial failed" });
    }
    socket = ws;
    ws.binaryType = "arraybuffer";
    ws.onmessage = (event) => socket === ws && onFrame(event.data);
    ws.onclose = (event) => socket === ws && dropped(event.code, event.reason);
    // The close event that follows reports the failure; without a listener some runtimes log it as uncaught.
    ws.onerror = () => {};
    // A dial that reaches a black hole (half-open proxy, captive portal) would otherwise wait forever.
    helloTimer = setTimeout(() => socket === ws && dropped(CloseCode.HEARTBEAT_TIMEOUT, "no hello"), connectTimeout);
  }

  /** Forgets the current socket and closes it; its late events are ignored. */
  function detach(code: number, reason: string): void {
    const ws = socket;
    socket = undefined;
    clearTimeout(helloTimer);
    liveness.stop();
    served.disconnected();
    if (ws === undefined) return;
    ws.onmessage = ws.onclose = null;
    if (ws.readyState < 2) ws.close(code, reason);
  }

  /** The socket is gone (closed, or declared dead): fail or re-queue requests, then plan a reconnect. */
  function dropped(code: number, reason: string): void {
    // Tell the server why when it is us who gave up on it (a client may only send 1000 or 3000-4999).
    const ours = code === CloseCode.HEARTBEAT_TIMEOUT;
    detach(ours ? code : CloseCode.NORMAL, ours ? reason : "");
    if (state === "open" && Date.now() - openedAt >= (backoff?.stableAfter ?? 0)) attempt = 0;
    requests.disconnected();
    subscriptions.disconnected();
    if (failure) return;
    const why = { code, reason };
    // Refused credentials (4401 / 4403 at the handshake, 4003 later): refresh once, else stop; never a blind loop.
    if (code === CloseCode.UNAUTHORIZED || code === CloseCode.FORBIDDEN || code === CloseCode.AUTH_EXPIRED) return void refuse(why);
    // The server ended the session on purpose (`service.disconnect`): like Socket.IO, stay closed.
    if (code === CloseCode.NORMAL || backoff === undefined || attempt >= backoff.maxAttempts) return end(why);
    if (options.lazy && !busy()) return setState("idle", why);
    scheduleReconnect(advisedDelay(code, reason, backoff.min), why);
  }

  async function refuse(why: StateChange): Promise<void> {
    const error = new RpcError(why.code === CloseCode.FORBIDDEN ? "FORBIDDEN" : "UNAUTHORIZED", why.reason);
    let again = why.code === CloseCode.AUTH_EXPIRED && !options.refreshAuth;
    if (!refreshed && options.refreshAuth) {
      refreshed = true;
      setState("reconnecting", why);
      try {
        again = (await options.refreshAuth(error)) === true;
      } catch {
        again = false;
      }
    }
    if (failure) return;
    if (again) return scheduleReconnect(0, why);
    end({ ...why, error }, "unauthorized");
  }

  function scheduleReconnect(advised: number | undefined, why: StateChange): void {
    if (backoff === undefined) return end(why);
    setState("reconnecting", why);
    const delay = advised ?? backoffDelay(backoff, attempt);
    attempt++;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, delay);
  }

  /** Skips the backoff wait (the browser came back online). */
  function retryNow(): void {
    if (state !== "reconnecting" || retryTimer === undefined) return;
    clearTimeout(retryTimer);
    retryTimer = undefined;
    void connect();
  }

  function opened(hello: { connectionId: string; heartbeat: { interval: number; timeout: number } }): void {
    clearTimeout(helloTimer);
    const reconnected = connectionId !== undefined;
    connectionId = hello.connectionId;
    openedAt = Date.now();
    refreshed = false;
    // The fallback's socket says which transport it greeted on; a plain WebSocket has no such member.
    setState("open", { reason: "connected", transport: (socket as unknown as { transport?: TransportKind }).transport });
    liveness.start(hello.heartbeat);
    subscriptions.resubscribeAll();
    requests.flush();
    if (reconnected) emit("reconnect", { attempt });
    touchIdle();
  }

  function onFrame(data: string | ArrayBuffer): void {
    liveness.seen();
    // A binary frame: its JSON text, and the attachments its payloads' binary values name.
    const binary = typeof data === "string" ? undefined : unpackFrame(new Uint8Array(data));
    let frame: ServerFrame;
    try {
      frame = JSON.parse(binary?.text ?? (data as string));
    } catch {
      return;
    }
    readingFrame(binary?.attachments, () => dispatch(frame));
  }

  function dispatch(frame: ServerFrame): void {
    switch (frame.type) {
      case "hello":
        return opened(frame);
      case "result":
        return void requests.settle(frame.id, { ok: true, value: () => decode(frame.output, true) });
      case "error": {
        const error = toError(frame.code, frame.message, frame.data, frame.issues);
        return void (requests.settle(frame.id, { ok: false, error }) || subscriptions.failed(frame.id, error));
      }
      case "subscribed":
        return subscriptions.subscribed(frame);
      case "event":
        return subscriptions.event(frame);
      case "presence":
        return subscriptions.presence(frame);
      case "unsubscribed":
        return frame.id === null ? subscriptions.ended(frame.topic, frame.key) : undefined;
      case "ping":
        return void send(JSON.stringify({ type: "pong", ts: frame.ts }));
      case "pong":
        return liveness.pong(frame.ts);
      case "call":
        return served.call(frame);
      case "cancel":
        return served.cancel(frame.id);
    }
  }

  // ---- lazy mode: connect on first use, close once idle ----

  function busy(): boolean {
    return subscriptions.size() > 0 || requests.busy();
  }

  /** Connects if idle (lazy mode, or after the idle close). */
  function wake(): void {
    if (state !== "idle") return;
    attempt = 0;
    void connect();
  }

  /** In lazy mode, closes the socket once nothing has used it for `idleMs`. */
  function touchIdle(): void {
    if (!options.lazy) return;
    clearTimeout(idleTimer);
    if (busy()) return;
    idleTimer = setTimeout(() => {
      if (state !== "open" || busy()) return;
      detach(CloseCode.NORMAL, "idle");
      setState("idle", { code: CloseCode.NORMAL, reason: "idle" });
    }, options.lazy.idleMs);
  }

  // ---- browser hints: come back online at once; distrust a socket after the tab sleeps ----

  const win = globalThis as EventSource;
  const doc = (globalThis as { document?: EventSource & { visibilityState?: string } }).document;
  const onVisibility = () => doc?.visibilityState === "visible" && state === "open" && liveness.check();
  /** Starts or stops listening to the browser's hints. */
  const hints = (method: keyof EventSource) => {
    win[method]?.("online", retryNow);
    // The event is fired at the document (and bubbles to window); listen where it starts when we can.
    (doc?.[method] ? doc : win)[method]?.("visibilitychange", onVisibility);
  };
  hints("addEventListener");

  /** Ends the client for good ("closed", or "unauthorized" with the refusal's error): everything waiting fails with that error. */
  function end(why: StateChange, next: ConnectionState = "closed"): void {
    if (state === "closed") return;
    // What every request and waiter gets: the refusal, or that the client closed.
    const error = (failure = why.error ?? new RpcError("DISCONNECTED", "Client closed"));
    setState(next, why);
    connectSeq++;
    clearTimeout(retryTimer);
    clearTimeout(idleTimer);
    hints("removeEventListener");
    detach(CloseCode.NORMAL, "client closed");
    requests.rejectAll(error);
    subscriptions.failAll(error);
    for (const w of waiters.splice(0)) w.reject(error);
  }

  if (!options.lazy) void connect();

  /** Sends a request frame; `build` encodes its payloads (binary values become attachments), and a value that cannot be encoded rejects. */
  const request = (build: () => Record<string, unknown>, label: string, extra: Partial<RequestOptions> = {}) => {
    const id = requests.nextId();
    let frame: WireFrame;
    try {
      frame = frameOf(() => JSON.stringify({ ...build(), id }));
    } catch (error) {
      return Promise.reject(error);
    }
    return requests.request(id, frame, { timeout, retry: false, queue: true, label, ...extra });
  };

  return {
    api: createProxy<C>({
      call: (method, input, opts = {}) =>
        failure ? Promise.reject(failure) : request(
          () => ({ type: "call", method, input: encode(input), ...(opts.retry ? { idempotencyKey: crypto.randomUUID() } : {}) }),
          `Call "${method}"`,
          { timeout: opts.timeout ?? timeout, signal: opts.signal, retry: opts.retry ?? false },
        ),
      subscribe: (topic, params, handlers) => subscriptions.subscribe(topic, params, handlers),
      publish: (topic, params, message) =>
        request(() => ({ type: "publish", topic, params: encode(params), data: encode(message) }), `Publish to "${topic}"`) as Promise<void>,
    }),
    get state() {
      return state;
    },
    get latency() {
      return liveness.latency();
    },
    get connectionId() {
      return connectionId;
    },
    ready() {
      if (state === "open") return Promise.resolve();
      if (failure) return Promise.reject(failure);
      wake();
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    on(event, listener) {
      let set = listeners.get(event);
      if (set === undefined) listeners.set(event, (set = new Set()));
      set.add(listener as Listener);
      return () => set.delete(listener as Listener);
    },
    authenticate: (token) => request(() => ({ type: "auth", token }), "Re-authentication", { queue: false }) as Promise<void>,
    close: () => end({ code: CloseCode.NORMAL, reason: "client closed" }),
  };
}

/**
 * An error frame as an RpcError; validation issues land in `data.issues`. `code` may be an
 * application code the procedure declared: the proxy's `CallError` type says which.
 */
function toError(code: string, message: string, data: Payload | undefined, issues: Issue[] | undefined): RpcError {
  let detail: unknown;
  try {
    detail = decode(data, true);
  } catch {
    // Undecodable detail is left out: the code and message still say what failed.
  }
  return new RpcError(code as ErrorCode, message, issues === undefined ? detail : { issues, ...(detail as object | undefined) });
}
