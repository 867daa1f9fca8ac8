/**
 * Automatic transport choice, as an opt-in (the core client stays WebSocket only and small): a
 * WebSocket-shaped constructor that dials a WebSocket first and, when it cannot open (upgrade
 * refused or stripped, or the socket dies before the server's hello), continues at once over the
 * HTTP fallback, unseen by the client. While on HTTP it probes WebSocket in the background; once a
 * probe is greeted and no call is waiting for its answer, the HTTP session ends with 1013
 * `retry=0` and the client's reconnect (resubscribe with `since`, as after any drop) adopts the
 * greeted socket. Browser-safe.
 * @module
 */
import { unpackFrame, type WireFrame } from "../shared/binary-frame.ts";
import type { TransportKind } from "./events.ts";
import { HttpSocket } from "./http-socket.ts";

export type { TransportKind };

/** Settings of the fallback. */
export interface HttpFallbackOptions {
  /** Milliseconds between WebSocket probes while on HTTP. @default 10000 */
  probeInterval?: number;
  /** Milliseconds a dialed WebSocket may take to say hello before HTTP is tried. @default 2500 */
  helloTimeout?: number;
  /** The WebSocket constructor. @default globalThis.WebSocket */
  WebSocket?: typeof WebSocket;
}

/** Pass `WebSocket` to `createClient`; read `transport` or listen for changes (the client's "open" state events carry it too). */
export interface HttpFallback {
  /** The constructor to give the client: `createClient(url, { WebSocket: fallback.WebSocket })`. */
  readonly WebSocket: typeof WebSocket;
  /** The transport of the open connection; undefined before the first hello. */
  readonly transport: TransportKind | undefined;
  /** Listens to transport changes (each hello); returns the function that stops listening. */
  onTransport(listener: (transport: TransportKind) => void): () => void;
}

/** The members of a socket (WebSocket or HttpSocket) this module uses. */
interface Inner {
  readyState: number;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: (() => void) | null;
  send(frame: WireFrame): void;
  close(code?: number, reason?: string): void;
  /** A WebSocket's: binary frames must arrive as ArrayBuffers. */
  binaryType?: string;
}

/** A frame's JSON text (a binary frame's header), to look at its type and id. */
const textOf = (frame: unknown): string =>
  typeof frame === "string" ? frame : unpackFrame(frame instanceof Uint8Array ? frame : new Uint8Array(frame as ArrayBuffer))?.text ?? "";

/** Request frames that expect an answer, and the answers: tracked to switch only when none is in flight. */
const ASKS = /^\{"type":"(?:call|publish|auth)"/;
const ANSWERS = /^\{"type":"(?:result|error)"/;

/**
 * Creates the fallback for one client.
 * @example
 * const fallback = httpFallback();
 * const client = createClient<typeof contract>("ws://localhost:8080/ws", { WebSocket: fallback.WebSocket });
 * fallback.onTransport((t) => console.log("now on", t));
 */
export function httpFallback(options: HttpFallbackOptions = {}): HttpFallback {
  const WS = options.WebSocket ?? globalThis.WebSocket;
  const probeInterval = options.probeInterval ?? 10_000;
  const helloTimeout = options.helloTimeout ?? 2500;
  let mode: TransportKind = "websocket";
  let transport: TransportKind | undefined;
  let parked: { socket: Inner; hello: string } | undefined;
  const listeners = new Set<(t: TransportKind) => void>();

  const greeted = (kind: TransportKind) => {
    mode = transport = kind;
    for (const fn of listeners) fn(kind);
  };

  class FallbackSocket {
    readyState = 0;
    onmessage: ((event: { data: unknown }) => void) | null = null;
    onclose: ((event: { code: number; reason: string }) => void) | null = null;
    onerror: (() => void) | null = null;
    /** The transport this socket was greeted on: the client puts it in its "open" state event. */
    transport: TransportKind | undefined;
    #inner: Inner;
    #hello = false;
    #inflight = new Set<unknown>();
    #probe: ReturnType<typeof setInterval> | undefined;

    constructor(private readonly url: string, private readonly protocol: string) {
      const ready = parked;
      parked = undefined;
      if (ready !== undefined && ready.socket.readyState === 1) {
        this.#inner = this.#attach(ready.socket, "websocket");
        // The hello came while parked: hand it over as the socket's first frame.
        setTimeout(() => this.#frame("websocket", ready.hello), 0);
      } else {
        ready?.socket.close();
        this.#inner = mode === "http" ? this.#http() : this.#ws();
      }
    }

    get bufferedAmount(): number {
      return (this.#inner as { bufferedAmount?: number }).bufferedAmount ?? 0;
    }

    send(frame: WireFrame): void {
      const text = transport === "http" ? textOf(frame) : "";
      if (ASKS.test(text)) this.#inflight.add((JSON.parse(text) as { id: unknown }).id);
      this.#inner.send(frame);
    }

    close(code?: number, reason?: string): void {
      this.#stopProbing();
      this.readyState = 3;
      this.#inner.close(code, reason);
    }

    #ws(): Inner {
      const ws = this.#attach(new WS(this.url, this.protocol) as unknown as Inner, "websocket");
      ws.binaryType = "arraybuffer";
      // A black-holed upgrade (a proxy that never answers) counts as a failure too.
      const timer = setTimeout(() => !this.#hello && this.#inner === ws && this.#failed(ws), helloTimeout);
      ws.onclose = (event) => {
        clearTimeout(timer);
        if (this.#inner !== ws) return;
        if (this.#hello || this.readyState === 3) return this.#closed(event);
        this.#failed(ws);
      };
      return ws;
    }

    /** The WebSocket could not open: continue over HTTP within the same client attempt. */
    #failed(ws: Inner): void {
      ws.onclose = ws.onmessage = null;
      ws.close();
      this.#inner = this.#http();
    }

    #http(): Inner {
      return this.#attach(new HttpSocket(this.url, this.protocol) as unknown as Inner, "http");
    }

    #attach(inner: Inner, kind: TransportKind): Inner {
      inner.onmessage = (event) => this.#inner === inner && this.#frame(kind, event.data as string | ArrayBuffer);
      inner.onclose = (event) => this.#inner === inner && this.#closed(event);
      inner.onerror = () => {};
      return inner;
    }

    #frame(kind: TransportKind, data: string | ArrayBuffer): void {
      if (!this.#hello) {
        this.#hello = true;
        this.readyState = 1;
        this.transport = kind;
        greeted(kind);
        if (kind === "http") this.#probe = setInterval(() => this.#probeOnce(), probeInterval);
      }
      const text = kind === "http" ? textOf(data) : "";
      if (ANSWERS.test(text)) {
        this.#inflight.delete((JSON.parse(text) as { id: unknown }).id);
        setTimeout(() => this.#switch(), 0);
      }
      this.onmessage?.({ data });
    }

    #closed(event: { code: number; reason: string }): void {
      this.#stopProbing();
      if (this.readyState === 3) return;
      this.readyState = 3;
      this.onclose?.(event);
    }

    /** Dials a WebSocket beside the HTTP session; once greeted it waits for the switch. */
    #probeOnce(): void {
      if (parked !== undefined || this.readyState !== 1) return;
      const probe = new WS(this.url, this.protocol) as unknown as Inner;
      probe.binaryType = "arraybuffer";
      const timer = setTimeout(() => probe.close(), helloTimeout);
      probe.onerror = () => {};
      probe.onclose = () => {
        clearTimeout(timer);
        if (parked?.socket === probe) parked = undefined;
      };
      probe.onmessage = (event) => {
        clearTimeout(timer);
        parked = { socket: probe, hello: event.data as string };
        // Parked: answer the server's heartbeat until the client adopts it.
        probe.onmessage = (e) => String(e.data).startsWith('{"type":"ping"') && probe.send('{"type":"pong"}');
        this.#switch();
      };
    }

    /** Ends the HTTP session for the greeted WebSocket once no answer is pending. */
    #switch(): void {
      if (parked === undefined || this.#inflight.size > 0 || this.readyState !== 1 || transport !== "http") return;
      this.#stopProbing();
      const inner = this.#inner;
      this.#closed({ code: 1013, reason: "retry=0; moving to WebSocket" });
      inner.onclose = inner.onmessage = null;
      inner.close(1000, "moving to WebSocket");
    }

    #stopProbing(): void {
      clearInterval(this.#probe);
      this.#probe = undefined;
    }
  }

  return {
    // The client only uses the members FallbackSocket has; the cast is the transport seam's boundary.
    WebSocket: FallbackSocket as unknown as typeof WebSocket,
    get transport() {
      return transport;
    },
    onTransport(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
