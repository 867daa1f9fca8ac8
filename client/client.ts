/**
 * createClient: one WebSocket that heals itself, typed calls and subscriptions over it.
 * Browser-safe: only web-standard globals (WebSocket, setTimeout, crypto, optional window events).
 * @module
 */
import { decode, encode, type Payload } from "../shared/codec.ts";
import type { ContractTree } from "../shared/contract.ts";
import { type ErrorCode, type Issue, RpcError } from "../shared/errors.ts";
import { CloseCode } from "../shared/close-codes.ts";
import type { ServerFrame } from "../shared/protocol.ts";
import { SUBPROTOCOL } from "../shared/version.ts";
import { type ClientApi, createProxy } from "./proxy.ts";
import { advisedDelay, type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from "./reconnect.ts";
import { ClientSubscription, type SubscriptionHandlers } from "./subscription.ts";

/** Where the client is in its life. */
export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/** Per-call options. */
export interface CallOptions {
  /** Milliseconds before the call rejects with TIMEOUT. @default the client's `timeout` */
  timeout?: number;
  /** Aborting it cancels the call (the server's handler sees its signal abort). */
  signal?: AbortSignal;
  /** Safe to run twice: re-sent after a reconnect with the same idempotency key. @default false */
  retry?: boolean;
}

/** A call's outcome without throwing (the `.safe` form). */
export type Result<T> = { ok: true; data: T } | { ok: false; error: RpcError };

/** Client settings; every field has a documented default. */
export interface ClientOptions {
  /** Default per-call timeout in milliseconds. @default 30000 */
  timeout?: number;
  /** Reconnect backoff, or false to never reconnect. @default DEFAULT_BACKOFF */
  reconnect?: Partial<BackoffOptions> | false;
  /** Query parameters sent with every (re)connect (e.g. a fresh token); may be async. */
  params?: () => Record<string, string> | Promise<Record<string, string>>;
  /** Connect on first use and close after this many idle milliseconds; false connects at once. @default false */
  lazy?: false | { idleMs: number };
  /** Milliseconds to wait for the server's hello after dialing before the attempt counts as failed. @default 10000 */
  connectTimeout?: number;
  /** Calls kept while disconnected before new ones are refused. @default 100 */
  queueSize?: number;
  /** The WebSocket constructor. @default globalThis.WebSocket */
  WebSocket?: typeof WebSocket;
}

/** Events a client emits. */
export interface ClientEvents {
  /** The connection state changed. */
  state: ConnectionState;
  /** The socket came back after a drop; subscriptions are being resubscribed. */
  reconnect: { attempt: number };
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
  /** Resolves once the connection is open (connecting first in lazy mode); rejects if closed. */
  ready(): Promise<void>;
  /** Listens to an event; returns the function that stops listening. */
  on<E extends keyof ClientEvents>(event: E, listener: (value: ClientEvents[E]) => void): () => void;
  /** Replaces the credentials of the live connection in-band; subscriptions are kept. */
  authenticate(token: string): Promise<void>;
  /** Closes for good: rejects pending calls with DISCONNECTED, ends subscriptions, stops every timer. */
  close(): void;
}

interface PendingCall {
  id: number;
  frame: string;
  retry: boolean;
  sent: boolean;
  resolve(value: unknown): void;
  reject(error: RpcError): void;
  cleanup(): void;
}

type Listener = (value: never) => void;

/**
 * Creates a client for a contract's type; the contract itself is never imported at runtime.
 * @param url the service's WebSocket URL, e.g. `ws://localhost:8080/ws`
 * @example
 * const client = createClient<typeof contract>("ws://localhost:8080/ws");
 * const { id } = await client.api.chat.send({ roomId: "lobby", text: "hi" });
 */
export function createClient<C extends ContractTree>(url: string, options: ClientOptions = {}): Client<C> {
  const timeoutDefault = options.timeout ?? 30_000;
  const backoff = options.reconnect === false ? undefined : { ...DEFAULT_BACKOFF, ...options.reconnect };
  const queueSize = options.queueSize ?? 100;
  const connectTimeout = options.connectTimeout ?? 10_000;
  const WS = options.WebSocket ?? globalThis.WebSocket;

  let state: ConnectionState = "idle";
  let socket: WebSocket | undefined;
  let connectionId: string | undefined;
  let latency: number | undefined;
  let attempt = 0;
  let openedAt = 0;
  let lastSeen = 0;
  let heartbeat = { interval: 20_000, timeout: 45_000 };
  let nextId = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let pingTimer: ReturnType<typeof setInterval> | undefined;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  let helloTimer: ReturnType<typeof setTimeout> | undefined;
  let probeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The `ts` of the wake-up probe still waiting for its pong. */
  let probe: number | undefined;
  let connectSeq = 0;
  const pending = new Map<number, PendingCall>();
  const queue: PendingCall[] = [];
  const subs = new Set<ClientSubscription>();
  const byChannel = new Map<string, Set<ClientSubscription>>();
  const listeners = new Map<keyof ClientEvents, Set<Listener>>();
  let waiters: { resolve(): void; reject(e: RpcError): void }[] = [];

  const emit = <E extends keyof ClientEvents>(event: E, value: ClientEvents[E]) => {
    for (const fn of listeners.get(event) ?? []) (fn as (v: ClientEvents[E]) => void)(value);
  };
  const setState = (next: ConnectionState) => {
    if (state === next) return;
    state = next;
    if (next === "open") for (const w of waiters.splice(0)) w.resolve();
    if (next === "closed") for (const w of waiters.splice(0)) w.reject(new RpcError("DISCONNECTED", "Client closed"));
    emit("state", next);
  };

  const sendRaw = (text: string): boolean => {
    if (socket === undefined || state !== "open" || socket.readyState !== 1) return false;
    socket.send(text);
    return true;
  };

  // ---- connection lifecycle ----

  async function connect(): Promise<void> {
    const seq = ++connectSeq;
    setState(attempt === 0 && state !== "reconnecting" ? "connecting" : "reconnecting");
    let query = "";
    try {
      const params = (await options.params?.()) ?? {};
      query = new URLSearchParams(params).toString();
    } catch {
      // A failing params function counts as a failed attempt.
      if (seq === connectSeq) scheduleReconnect(undefined);
      return;
    }
    if (seq !== connectSeq || state === "closed") return;
    // Never two sockets at once: whatever was there is detached before dialing again.
    if (socket !== undefined) detach(CloseCode.NORMAL, "replaced");
    const target = query === "" ? url : `${url}${url.includes("?") ? "&" : "?"}${query}`;
    let ws: WebSocket;
    try {
      ws = new WS(target, SUBPROTOCOL);
    } catch {
      return scheduleReconnect(undefined);
    }
    socket = ws;
    ws.onmessage = (event) => {
      if (socket === ws) onFrame(event.data);
    };
    ws.onclose = (event) => {
      if (socket === ws) dropped(event.code, event.reason);
    };
    // The close event that follows reports the failure; without a listener some runtimes log it as uncaught.
    ws.onerror = () => {};
    // A dial that reaches a black hole (half-open proxy, captive portal) would otherwise wait forever.
    helloTimer = setTimeout(() => {
      helloTimer = undefined;
      if (socket === ws) dropped(CloseCode.HEARTBEAT_TIMEOUT, "no hello");
    }, connectTimeout);
  }

  /** Forgets the current socket and closes it; its late events are ignored. */
  function detach(code: number, reason: string): void {
    const ws = socket;
    socket = undefined;
    clearTimeout(helloTimer);
    helloTimer = undefined;
    stopPinging();
    if (ws === undefined) return;
    ws.onmessage = null;
    ws.onclose = null;
    if (ws.readyState < 2) ws.close(code, reason);
  }

  /** The socket is gone (closed, or declared dead): fail or re-queue calls, then plan a reconnect. */
  function dropped(code: number, reason: string): void {
    // Tell the server why when it is us who gave up on it (a client may only send 1000 or 3000-4999).
    detach(code === CloseCode.HEARTBEAT_TIMEOUT ? code : CloseCode.NORMAL, code === CloseCode.HEARTBEAT_TIMEOUT ? reason : "");
    clearTimeout(probeTimer);
    probeTimer = probe = undefined;
    const wasOpen = state === "open";
    if (wasOpen && Date.now() - openedAt >= (backoff?.stableAfter ?? 0)) attempt = 0;
    const retries: PendingCall[] = [];
    for (const call of [...pending.values()]) {
      pending.delete(call.id);
      call.sent = false;
      if (call.retry) retries.push(call);
      else (call.cleanup(), call.reject(new RpcError("DISCONNECTED", "Connection lost before the call was answered")));
    }
    queue.unshift(...retries);
    for (const sub of subs) sub.active = false;
    subscribing.clear();
    if (state === "closed") return;
    if (backoff === undefined || attempt >= backoff.maxAttempts) return close();
    if (options.lazy && subs.size === 0 && pending.size === 0 && queue.length === 0) return setState("idle");
    scheduleReconnect(advisedDelay(code, reason, backoff.min));
  }

  function scheduleReconnect(advised: number | undefined): void {
    if (backoff === undefined) return close();
    setState("reconnecting");
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

  function onOpen(hello: { connectionId: string; heartbeat: { interval: number; timeout: number } }): void {
    clearTimeout(helloTimer);
    helloTimer = undefined;
    const reconnected = connectionId !== undefined;
    connectionId = hello.connectionId;
    heartbeat = hello.heartbeat;
    openedAt = Date.now();
    setState("open");
    startPinging();
    for (const sub of subs) sendSubscribe(sub);
    for (const call of queue.splice(0)) sendCall(call);
    if (reconnected) emit("reconnect", { attempt });
    touchIdle();
  }

  // ---- heartbeat: the client pings on the server's interval and declares the server dead after its timeout ----

  function startPinging(): void {
    stopPinging();
    lastSeen = Date.now();
    pingTimer = setInterval(() => {
      if (Date.now() - lastSeen > heartbeat.timeout) return dropped(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout");
      sendRaw(JSON.stringify({ type: "ping", ts: Date.now() }));
    }, heartbeat.interval);
  }

  function stopPinging(): void {
    clearInterval(pingTimer);
    pingTimer = undefined;
  }

  /** A tab woken from sleep must not trust its socket: probe it and drop it if no answer comes soon. */
  function checkLiveness(): void {
    if (state !== "open") return;
    const probeAt = Date.now();
    probe = probeAt;
    sendRaw(JSON.stringify({ type: "ping", ts: probeAt }));
    // A live server answers within a round trip; one interval is generous and far shorter than the timeout.
    const wait = Math.min(heartbeat.interval, 5_000);
    clearTimeout(probeTimer);
    probeTimer = setTimeout(() => {
      probeTimer = undefined;
      // Only the probe's own pong counts: a frame read in the same millisecond may have been sent before the sleep.
      if (state === "open" && probe === probeAt) dropped(CloseCode.HEARTBEAT_TIMEOUT, "no answer after wake-up");
    }, wait);
  }

  // ---- frames from the server ----

  function onFrame(data: unknown): void {
    lastSeen = Date.now();
    if (typeof data !== "string") return;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    switch (frame.type) {
      case "hello":
        return onOpen(frame);
      case "result": {
        const call = take(frame.id);
        if (call !== undefined) safely(() => call.resolve(decode(frame.output)), call);
        return;
      }
      case "error": {
        const error = toError(frame.code, frame.message, frame.data, frame.issues);
        if (typeof frame.id === "number") take(frame.id)?.reject(error);
        if (frame.id !== null) subscribeFailed(frame.id, error);
        return;
      }
      case "subscribed": {
        const sub = subscribing.get(frame.id);
        subscribing.delete(frame.id);
        if (sub === undefined) return;
        const channel = `${frame.topic}:${frame.key}`;
        if (sub.ended) {
          // Unsubscribed while the subscribe was in flight: undo it unless another handle shares it.
          if (!byChannel.has(channel)) sendRaw(JSON.stringify({ type: "unsubscribe", id: `u${++nextId}`, topic: frame.topic, key: frame.key }));
          return;
        }
        index(sub, channel);
        sub.confirmed(frame.key, frame.epoch, frame.offset, frame.recovered);
        return;
      }
      case "event":
        for (const sub of byChannel.get(`${frame.topic}:${frame.key}`) ?? []) sub.event(decode(frame.data), frame.offset);
        return;
      case "presence": {
        const decodeAll = (r: Record<string, Record<string, Payload>> | undefined) =>
          r && Object.fromEntries(Object.entries(r).map(([m, metas]) => [m, Object.fromEntries(Object.entries(metas).map(([c, p]) => [c, decode(p)]))]));
        const view = { count: frame.count, state: decodeAll(frame.state), joins: decodeAll(frame.joins), leaves: decodeAll(frame.leaves) };
        for (const sub of byChannel.get(`${frame.topic}:${frame.key}`) ?? []) sub.presenceFrame(view as never);
        return;
      }
      case "unsubscribed":
        if (frame.id === null) {
          for (const sub of byChannel.get(`${frame.topic}:${frame.key}`) ?? []) sub.failed(new RpcError("FORBIDDEN", "The server ended this subscription"));
        }
        return;
      case "ping":
        sendRaw(JSON.stringify({ type: "pong", ts: frame.ts }));
        return;
      case "pong":
        if (frame.ts === probe) probe = undefined;
        if (frame.ts !== undefined) latency = Date.now() - frame.ts;
        return;
    }
  }

  function take(id: string | number): PendingCall | undefined {
    if (typeof id !== "number") return undefined;
    const call = pending.get(id);
    if (call === undefined) return undefined;
    pending.delete(id);
    call.cleanup();
    touchIdle();
    return call;
  }

  // ---- calls ----

  function call(method: string, input: unknown, opts: CallOptions = {}): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (state === "closed") return reject(new RpcError("DISCONNECTED", "Client closed"));
      if (opts.signal?.aborted) return reject(new RpcError("CANCELLED", "Call aborted before it was sent"));
      const id = ++nextId;
      const frame: Record<string, unknown> = { type: "call", id, method, input: encode(input) };
      if (opts.retry) frame.idempotencyKey = randomKey();
      const onAbort = () => fail(new RpcError("CANCELLED", `Call "${method}" was cancelled`));
      const timer = setTimeout(() => fail(new RpcError("TIMEOUT", `Call "${method}" got no answer within ${opts.timeout ?? timeoutDefault} ms`)), opts.timeout ?? timeoutDefault);
      const entry: PendingCall = {
        id,
        frame: JSON.stringify(frame),
        retry: opts.retry ?? false,
        sent: false,
        resolve,
        reject,
        cleanup() {
          clearTimeout(timer);
          opts.signal?.removeEventListener("abort", onAbort);
        },
      };
      const fail = (error: RpcError) => {
        const wasSent = pending.delete(id);
        const queued = queue.indexOf(entry);
        if (queued >= 0) queue.splice(queued, 1);
        if (!wasSent && queued < 0) return;
        entry.cleanup();
        if (wasSent) sendRaw(JSON.stringify({ type: "cancel", id }));
        reject(error);
        touchIdle();
      };
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      if (state === "open") return sendCall(entry);
      if (queue.length >= queueSize) {
        entry.cleanup();
        return reject(new RpcError("DISCONNECTED", `Offline queue is full (${queueSize} calls)`));
      }
      queue.push(entry);
      wake();
    });
  }

  function sendCall(entry: PendingCall): void {
    pending.set(entry.id, entry);
    entry.sent = sendRaw(entry.frame);
    if (!entry.sent) {
      pending.delete(entry.id);
      queue.push(entry);
    }
  }

  // ---- subscriptions ----

  const subscribing = new Map<string | number, ClientSubscription>();

  function subscribe(topic: string, params: unknown, handlers: SubscriptionHandlers<unknown, unknown> = {}): ClientSubscription {
    const sub: ClientSubscription = new ClientSubscription(topic, params, handlers, release);
    subs.add(sub);
    if (state === "open") sendSubscribe(sub);
    else wake();
    return sub;
  }

  function sendSubscribe(sub: ClientSubscription): void {
    const id = `s${++nextId}`;
    subscribing.set(id, sub);
    const frame: Record<string, unknown> = { type: "subscribe", id, topic: sub.topic, params: encode(sub.params) };
    if (sub.epoch !== undefined) frame.since = { epoch: sub.epoch, offset: sub.offset };
    sendRaw(JSON.stringify(frame));
  }

  function subscribeFailed(id: string | number, error: RpcError): void {
    const sub = subscribing.get(id);
    if (sub === undefined) return;
    subscribing.delete(id);
    subs.delete(sub);
    sub.failed(error);
  }

  function index(sub: ClientSubscription, channel: string): void {
    let set = byChannel.get(channel);
    if (set === undefined) byChannel.set(channel, (set = new Set()));
    set.add(sub);
  }

  /** Forgets a subscription; the server is told only when no other local one shares its instance. */
  function release(sub: ClientSubscription): void {
    subs.delete(sub);
    if (sub.key === undefined) return touchIdle();
    const channel = `${sub.topic}:${sub.key}`;
    const set = byChannel.get(channel);
    set?.delete(sub);
    if (set?.size === 0) {
      byChannel.delete(channel);
      sendRaw(JSON.stringify({ type: "unsubscribe", id: `u${++nextId}`, topic: sub.topic, key: sub.key }));
    }
    touchIdle();
  }

  function publish(topic: string, params: unknown, message: unknown): Promise<void> {
    return new Promise((resolve, reject) => {
      const id = ++nextId;
      const frame = JSON.stringify({ type: "publish", id, topic, params: encode(params), data: encode(message) });
      const timer = setTimeout(() => {
        pending.delete(id);
        const queued = queue.indexOf(entry);
        if (queued >= 0) queue.splice(queued, 1);
        reject(new RpcError("TIMEOUT", `Publish to "${topic}" got no answer within ${timeoutDefault} ms`));
      }, timeoutDefault);
      const entry: PendingCall = { id, frame, retry: false, sent: false, resolve: () => resolve(), reject, cleanup: () => clearTimeout(timer) };
      if (state === "open") sendCall(entry);
      else if (queue.length < queueSize) (queue.push(entry), wake());
      else (entry.cleanup(), reject(new RpcError("DISCONNECTED", `Offline queue is full (${queueSize} calls)`)));
    });
  }

  // ---- lazy mode ----

  /** Connects if idle (lazy mode, or after the idle close). */
  function wake(): void {
    if (state === "idle") {
      attempt = 0;
      void connect();
    }
  }

  /** In lazy mode, closes the socket once nothing has used it for `idleMs`. */
  function touchIdle(): void {
    if (!options.lazy) return;
    clearTimeout(idleTimer);
    if (subs.size > 0 || pending.size > 0 || queue.length > 0) return;
    idleTimer = setTimeout(() => {
      if (state !== "open" || subs.size > 0 || pending.size > 0 || queue.length > 0) return;
      detach(CloseCode.NORMAL, "idle");
      setState("idle");
    }, options.lazy.idleMs);
  }

  // ---- browser hints: come back online at once; distrust a socket after the tab sleeps ----

  const target = globalThis as unknown as Partial<Pick<EventTarget, "addEventListener" | "removeEventListener">>;
  const doc = (globalThis as { document?: { visibilityState?: string } & Partial<Pick<EventTarget, "addEventListener" | "removeEventListener">> })
    .document;
  // The event is fired at the document (and bubbles to window); listen where it starts when we can.
  const visibilityTarget = doc?.addEventListener !== undefined ? doc : target;
  const onVisibility = () => {
    if (doc?.visibilityState === "visible") checkLiveness();
  };
  target.addEventListener?.("online", retryNow);
  if (doc !== undefined) visibilityTarget.addEventListener?.("visibilitychange", onVisibility);

  function close(): void {
    if (state === "closed") return;
    setState("closed");
    connectSeq++;
    clearTimeout(retryTimer);
    clearTimeout(idleTimer);
    clearTimeout(probeTimer);
    retryTimer = idleTimer = probeTimer = undefined;
    target.removeEventListener?.("online", retryNow);
    visibilityTarget.removeEventListener?.("visibilitychange", onVisibility);
    detach(CloseCode.NORMAL, "client closed");
    const closedError = new RpcError("DISCONNECTED", "Client closed");
    for (const c of [...pending.values(), ...queue.splice(0)]) (c.cleanup(), c.reject(closedError));
    pending.clear();
    for (const sub of [...subs]) sub.failed(closedError);
    subs.clear();
    byChannel.clear();
    subscribing.clear();
  }

  if (!options.lazy) void connect();

  return {
    api: createProxy<C>({ call, subscribe, publish }),
    get state() {
      return state;
    },
    get latency() {
      return latency;
    },
    get connectionId() {
      return connectionId;
    },
    ready() {
      if (state === "open") return Promise.resolve();
      if (state === "closed") return Promise.reject(new RpcError("DISCONNECTED", "Client closed"));
      wake();
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    on(event, listener) {
      let set = listeners.get(event);
      if (set === undefined) listeners.set(event, (set = new Set()));
      set.add(listener as Listener);
      return () => set.delete(listener as Listener);
    },
    authenticate(token) {
      return new Promise((resolve, reject) => {
        const id = ++nextId;
        const timer = setTimeout(() => (pending.delete(id), reject(new RpcError("TIMEOUT", "Re-authentication got no answer"))), timeoutDefault);
        const entry: PendingCall = {
          id,
          frame: JSON.stringify({ type: "auth", id, token }),
          retry: false,
          sent: false,
          resolve: () => resolve(),
          reject,
          cleanup: () => clearTimeout(timer),
        };
        if (state === "open") sendCall(entry);
        else (entry.cleanup(), reject(new RpcError("DISCONNECTED", "Not connected")));
      });
    },
    close: () => {
      close();
      waiters = [];
    },
  };
}

/** Runs a user callback so that its exception rejects the call instead of breaking frame handling. */
function safely(fn: () => void, call: PendingCall): void {
  try {
    fn();
  } catch {
    call.reject(new RpcError("BAD_REQUEST", "Result could not be decoded"));
  }
}

function toError(code: ErrorCode, message: string, data: Payload | undefined, issues: Issue[] | undefined): RpcError {
  let detail: unknown;
  try {
    detail = decode(data);
  } catch {
    detail = undefined;
  }
  return new RpcError(code, message, issues === undefined ? detail : { issues, ...(detail as object | undefined) });
}

function randomKey(): string {
  return crypto.randomUUID();
}
