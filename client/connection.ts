/**
 * The client's connection state machine: dial, hello, drop, refusal (with one `refreshAuth`),
 * backoff and reconnect, lazy mode's connect on use and idle close, and the end. It owns the socket
 * and the parts that live on it: requests, subscriptions, served procedures and the liveness watch.
 * @module
 */
import { SplitFrame, type WireFrame } from "../shared/binary-frame.ts";
import { CloseCode } from "../shared/close-codes.ts";
import type { ContractTree } from "../shared/contract.ts";
import { RpcError } from "../shared/errors.ts";
import type { HelloFrame } from "../shared/protocol.ts";
import { SUBPROTOCOL } from "../shared/version.ts";
import { listenToBrowserHints } from "./browser-hints.ts";
import type { ConnectionState, EventListeners, StateChange, TransportKind } from "./events.ts";
import { createFrameRouter } from "./frame-router.ts";
import { createIdleClose } from "./idle-close.ts";
import { createImplementations } from "./implementations.ts";
import { createLiveness, type Liveness } from "./liveness.ts";
import type { ClientOptions } from "./options.ts";
import { advisedDelay, backoffDelay, createRetryTimer, DEFAULT_BACKOFF } from "./reconnect.ts";
import { createRequests, type Requests } from "./requests.ts";
import { createSubscriptions, type SubscriptionRegistry } from "./subscriptions.ts";

/**
 * One client's connection and the parts that live on it.
 * @internal
 */
export interface Connection {
  /** The current state. */
  readonly state: ConnectionState;
  /** The server-assigned id of the current connection. */
  readonly connectionId: string | undefined;
  /** Why the client ended (closed or refused); undefined while it lives. */
  readonly failure: RpcError | undefined;
  /** The client's requests (calls, publishes, re-authentication). */
  readonly requests: Requests;
  /** The client's subscriptions. */
  readonly subscriptions: SubscriptionRegistry;
  /** The heartbeat watch (its latency is the client's). */
  readonly liveness: Liveness;
  /** Connects if idle (lazy mode, or after the idle close). */
  wake(): void;
  /** Resolves once open (connecting first if idle); rejects with the failure once the client ended. */
  ready(): Promise<void>;
  /** Ends the client for good ("closed", or "unauthorized" with the refusal's error): everything waiting fails with that error. */
  end(why: StateChange, next?: ConnectionState): void;
}

/** The socket the client drives: a WebSocket, or one that says which transport it greeted on (the HTTP fallback's). */
type ClientSocket = WebSocket & { readonly transport?: TransportKind | undefined };

/** Starts a client's connection (at once, unless lazy). @internal */
export function createConnection<C extends ContractTree>(url: string, options: ClientOptions<C>, events: EventListeners): Connection {
  const backoff = options.reconnect === false ? undefined : { ...DEFAULT_BACKOFF, ...options.reconnect };
  const connectTimeout = options.connectTimeout ?? 10_000;
  const WS = options.WebSocket ?? globalThis.WebSocket;

  let state: ConnectionState = "idle";
  let socket: ClientSocket | undefined;
  let connectionId: string | undefined;
  let attempt = 0;
  let openedAt = 0;
  let connectSeq = 0;
  let helloTimer: ReturnType<typeof setTimeout> | undefined;
  const waiters: { resolve(): void; reject(e: RpcError): void }[] = [];
  let failure: RpcError | undefined;
  /** Whether `refreshAuth` already ran since the last open: one refresh per refusal, never a loop. */
  let refreshed = false;

  const send = (frame: WireFrame): boolean => {
    if (socket === undefined || state !== "open" || socket.readyState !== 1) return false;
    // A split frame is its messages one after the other, in the same turn (PROTOCOL.md section 1.1).
    if (frame instanceof SplitFrame) for (const message of frame.messages) socket.send(message);
    else socket.send(frame);
    return true;
  };
  const retry = createRetryTimer(() => void connect());
  const idle = createIdleClose(options.lazy, busy, closeIdle);
  const requests = createRequests(send, wake, idle.touch, options.queueSize ?? 100);
  const subscriptions = createSubscriptions(send, requests.nextId, wake, idle.touch);
  const served = createImplementations(options.implement, send);
  const liveness = createLiveness(send, (reason) => dropped(CloseCode.HEARTBEAT_TIMEOUT, reason));
  const onFrame = createFrameRouter({ requests, subscriptions, served, liveness, send, opened });

  function setState(next: ConnectionState, change: StateChange): void {
    if (state === next) return;
    state = next;
    if (next === "open") for (const w of waiters.splice(0)) w.resolve();
    events.emit("state", next, change);
  }

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
    let ws: ClientSocket;
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
    retry.schedule(delay);
  }

  function opened(hello: HelloFrame): void {
    clearTimeout(helloTimer);
    const reconnected = connectionId !== undefined;
    connectionId = hello.connectionId;
    openedAt = Date.now();
    refreshed = false;
    liveness.start(hello.heartbeat); // before the "open" listeners: one that closes the client stops it
    setState("open", { reason: "connected", transport: socket?.transport });
    subscriptions.resubscribeAll();
    requests.flush();
    if (reconnected) events.emit("reconnect", { attempt });
    idle.touch();
  }

  // ---- lazy mode: connect on first use, close once idle ----
  function busy(): boolean {
    return subscriptions.size() > 0 || requests.busy();
  }

  function wake(): void {
    if (state !== "idle") return;
    attempt = 0;
    void connect();
  }

  function closeIdle(): void {
    if (state !== "open" || busy()) return;
    detach(CloseCode.NORMAL, "idle");
    setState("idle", { code: CloseCode.NORMAL, reason: "idle" });
  }

  // Back online: skip the backoff wait. Visible again: the socket may have died while the tab slept.
  const stopHints = listenToBrowserHints({ online: () => state === "reconnecting" && retry.now(), visible: () => state === "open" && liveness.check() });

  function end(why: StateChange, next: ConnectionState = "closed"): void {
    if (state === "closed") return;
    // What every request and waiter gets: the refusal, or that the client closed.
    const error = (failure = why.error ?? new RpcError("DISCONNECTED", "Client closed"));
    setState(next, why);
    connectSeq++;
    retry.cancel();
    idle.stop();
    stopHints();
    detach(CloseCode.NORMAL, "client closed");
    requests.rejectAll(error);
    subscriptions.failAll(error);
    for (const w of waiters.splice(0)) w.reject(error);
  }

  if (!options.lazy) void connect();

  return {
    get state() {
      return state;
    },
    get connectionId() {
      return connectionId;
    },
    get failure() {
      return failure;
    },
    requests,
    subscriptions,
    liveness,
    wake,
    ready() {
      if (state === "open") return Promise.resolve();
      if (failure) return Promise.reject(failure);
      wake();
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    end,
  };
}
