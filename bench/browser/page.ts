/**
 * The browser side of the browser latency bench (`bench/browser-latency.ts`), bundled by esbuild into
 * the page: connects one client over one transport (Tether over WebSocket or over its HTTP
 * fallback, Socket.IO over websocket or polling), then runs `echo` calls one at a time and keeps
 * each round trip, measured with `performance.now()` (5 µs steps: the page is cross-origin isolated).
 * @module
 */
import { createClient } from "../../client/mod.ts";
import { httpFallback } from "../../client/http.ts";
import { io, type Socket } from "socket.io-client";
import type { BenchContract } from "../targets/tether.ts";

/**
 * The transports the bench compares; `fetch-floor` is no transport but the floor of one: a bare
 * `fetch` POST to the same server, answered at once (a refused fallback POST, 400), body read.
 */
export type Transport = "tether-ws" | "tether-http" | "fetch-floor" | "socketio-ws" | "socketio-polling";

/** The call payload every target echoes (as the load generator's). */
const PAYLOAD = { text: "hello, benchmark", n: 42, ok: true };

/**
 * A WebSocket a proxy kills before the server's hello: the fallback's "cannot open" case, so
 * every Tether client built with it runs over HTTP.
 */
class BlockedWebSocket {
  readyState = 0;
  binaryType = "arraybuffer";
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onmessage: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor() {
    setTimeout(() => {
      this.readyState = 3;
      this.onclose?.({ code: 1006, reason: "blocked by the bench" });
    }, 0);
  }
  send(): void {}
  close(): void {}
}

/** One connected client: a function making one echo call. */
let call: (() => Promise<unknown>) | undefined;
let closeLink: (() => void) | undefined;

/** Connects over `transport` to the page's own origin; resolves once a call can be made. */
async function connect(transport: Transport): Promise<string> {
  const origin = location.origin;
  if (transport === "fetch-floor") {
    const init = { method: "POST", body: "{}", headers: { "content-type": "application/json" } };
    call = () => fetch("/ws/http", init).then((response) => response.text());
    closeLink = undefined;
    return "http";
  }
  if (transport === "tether-ws" || transport === "tether-http") {
    const fallback = httpFallback({ WebSocket: BlockedWebSocket as unknown as typeof WebSocket });
    const url = `${origin.replace(/^http/, "ws")}/ws`;
    const client = createClient<BenchContract>(url, transport === "tether-http" ? { WebSocket: fallback.WebSocket } : {});
    await client.ready();
    call = () => client.api.echo(PAYLOAD);
    closeLink = () => client.close();
    return transport === "tether-http" ? fallback.transport ?? "none" : "websocket";
  }
  const socket: Socket = io(origin, { transports: [transport === "socketio-ws" ? "websocket" : "polling"] });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  call = () => socket.emitWithAck("echo", PAYLOAD);
  closeLink = () => socket.close();
  return socket.io.engine.transport.name;
}

/** Calls for `ms`, one at a time; returns the round trips in µs when `keep`. */
async function calls(ms: number, keep: boolean): Promise<number[]> {
  const samples: number[] = [];
  const end = performance.now() + ms;
  for (let now = performance.now(); now < end;) {
    await call!();
    const after = performance.now();
    if (keep) samples.push((after - now) * 1000);
    now = after;
  }
  return samples;
}

/** What the runner calls through `page.evaluate`. */
const bench = { connect, calls, close: () => closeLink?.() };
(globalThis as unknown as { bench: typeof bench }).bench = bench;
/** The page's `globalThis.bench`: connect over a transport, make calls, close. */
export type PageBench = typeof bench;
