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
export type Transport = "tether-ws" | "tether-http" | "fetch-floor" | "socketio-ws" | "socketio-polling" | H2Transport;

/**
 * The TLS rows, against the HTTP/2 echo (bench/targets/h2-echo.ts), no Tether code: `h2-wss` a
 * `wss://` echo; `h2-streamed` one long-lived streamed upload (`duplex: "half"`) whose lines come
 * back on a long-lived response; `h2-post` the same response with one POST per line.
 */
export type H2Transport = "h2-wss" | "h2-streamed" | "h2-post";

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

/**
 * The lines of a long-lived response, awaited one at a time. Once the response ends or fails, the
 * pending call and every later one (past the lines already read) reject with why.
 */
function lineReader(body: ReadableStream<Uint8Array>): () => Promise<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const lines: string[] = [];
  let rest = "";
  let failure: Error | undefined;
  let waiter: (() => void) | undefined;
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("The streamed response ended");
      const parts = (rest + decoder.decode(value, { stream: true })).split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
      waiter?.();
    }
  })().catch((error: unknown) => {
    failure = error instanceof Error ? error : new Error(String(error));
    waiter?.();
  });
  return async () => {
    while (lines.length === 0) {
      if (failure !== undefined) throw failure;
      await new Promise<void>((resolve) => (waiter = resolve));
    }
    return lines.shift()!;
  };
}

/** Connects to the HTTP/2 echo over `transport`; returns the transport and the page's HTTP version. */
async function connectH2(transport: H2Transport): Promise<string> {
  const text = JSON.stringify(PAYLOAD);
  if (transport === "h2-wss") {
    const socket = new WebSocket(`${location.origin.replace(/^https/, "wss")}/ws`);
    await new Promise((resolve, reject) => ((socket.onopen = resolve), (socket.onerror = reject)));
    let answered: (() => void) | undefined;
    socket.onmessage = () => answered?.();
    call = () => new Promise<void>((resolve) => ((answered = resolve), socket.send(text)));
    closeLink = () => socket.close();
    return "websocket";
  }
  const id = crypto.randomUUID();
  const abort = new AbortController();
  const down = await fetch(`/down?id=${id}`, { signal: abort.signal });
  const next = lineReader(down.body!);
  await next();
  // A streamed response has no timing entry until it ends: a small request on the same connection tells the version.
  const probe = await fetch("/protocol");
  await probe.text();
  const protocol = (performance.getEntriesByName(probe.url)[0] as PerformanceResourceTiming | undefined)?.nextHopProtocol;
  const headers = { "content-type": "application/x-ndjson" };
  if (transport === "h2-post") {
    call = () => (void fetch(`/post?id=${id}`, { method: "POST", body: text + "\n", headers }), next());
    closeLink = () => abort.abort();
    return `http ${protocol}`;
  }
  const upload = new TransformStream<Uint8Array, Uint8Array>();
  const writer = upload.writable.getWriter();
  const encoder = new TextEncoder();
  // duplex is not in TypeScript's RequestInit yet; Chromium needs it for a streamed body.
  const sent = fetch(`/up?id=${id}`, { method: "POST", body: upload.readable, headers, duplex: "half" } as RequestInit);
  // A refused stream (not HTTP/2) rejects; one the server ends resolves: either fails every call.
  const ended = sent.then(() => Promise.reject(new Error("The streamed upload ended")));
  ended.catch(() => {});
  call = () => {
    writer.write(encoder.encode(text + "\n")).catch(() => {});
    return Promise.race([next(), ended]);
  };
  closeLink = () => (void writer.close().catch(() => {}), abort.abort());
  await call();
  return `http ${protocol} streamed`;
}

/** Connects over `transport` to the page's own origin; resolves once a call can be made. */
async function connect(transport: Transport): Promise<string> {
  const origin = location.origin;
  if (transport.startsWith("h2-")) return connectH2(transport as H2Transport);
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
