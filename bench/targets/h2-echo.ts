/**
 * The HTTP/2 echo for the browser bench's TLS rows (`bench/browser-latency.ts`): one TLS server
 * that speaks h2 (and HTTP/1.1 for the WebSocket upgrade) on Bun (`Bun.serve` with `tls` and
 * `http2: true`) or Deno (`Deno.serve` with `cert`/`key`, h2 by ALPN), whichever runs it. It
 * measures what a fallback with a streamed upload could reach in Chromium, before any Tether code:
 * - `wss://…/ws`: echoes each WebSocket message;
 * - `GET /down?id=X`: a long-lived streamed response, first line `ready`;
 * - `POST /up?id=X`: a streamed request body (`duplex: "half"`), read as it arrives: each line is
 *   written back on X's `/down` as soon as it is complete;
 * - `POST /post?id=X`: one line per request, written back on X's `/down` (a numbered POST's path).
 * Certificate and key are PEM files named by `BENCH_TLS_CERT` and `BENCH_TLS_KEY`. Prints
 * `READY <port>`.
 * @module
 */

import { readFileSync } from "node:fs";
import process from "node:process";

/** A PEM file named by an environment variable. */
function pemFrom(name: string): string {
  const path = process.env[name];
  if (path === undefined) throw new Error(`${name} is not set: the TLS echo needs a certificate`);
  return readFileSync(path, "utf8");
}
const cert = pemFrom("BENCH_TLS_CERT");
const key = pemFrom("BENCH_TLS_KEY");

const encoder = new TextEncoder();
/** Each page's long-lived response, by the id it chose. */
const downs = new Map<string, ReadableStreamDefaultController<Uint8Array>>();

/** Writes each complete line of `text` (after what `rest` held) to `id`'s stream; returns the rest. */
function echoLines(id: string, rest: string, text: string): string {
  const all = rest + text;
  const end = all.lastIndexOf("\n");
  if (end >= 0) downs.get(id)?.enqueue(encoder.encode(all.slice(0, end + 1)));
  return all.slice(end + 1);
}

/** Every HTTP request but the WebSocket upgrade. */
async function handle(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const id = url.searchParams.get("id") ?? "";
  if (url.pathname === "/down") {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        downs.set(id, controller);
        controller.enqueue(encoder.encode("ready\n"));
      },
      cancel() {
        downs.delete(id);
      },
    });
    return new Response(body, { headers: { "content-type": "text/plain", "cache-control": "no-store" } });
  }
  if (request.method === "POST" && (url.pathname === "/up" || url.pathname === "/post") && request.body !== null) {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of request.body) rest = echoLines(id, rest, decoder.decode(chunk, { stream: true }));
    return new Response(null, { status: 204 });
  }
  return new Response("Not found", { status: 404 });
}

/** The members of Bun's server and socket used here. */
interface BunServer {
  port: number;
  upgrade(request: Request): boolean;
}
const runtime = globalThis as unknown as {
  Bun?: {
    serve(options: {
      port: number;
      hostname: string;
      tls: { cert: string; key: string };
      http2: boolean;
      fetch(request: Request, server: BunServer): Promise<Response> | undefined;
      websocket: { message(ws: { send(data: string | Uint8Array): number }, message: string | Uint8Array): void; perMessageDeflate: boolean };
    }): BunServer;
  };
  Deno?: {
    serve(options: { port: number; hostname: string; cert: string; key: string; onListen(addr: { port: number }): void }, handler: (request: Request) => Response | Promise<Response>): unknown;
    upgradeWebSocket(request: Request): { socket: WebSocket; response: Response };
  };
};

if (runtime.Bun !== undefined) {
  const server = runtime.Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    tls: { cert, key },
    http2: true,
    fetch: (request, srv) => request.headers.get("upgrade") === "websocket" && srv.upgrade(request) ? undefined : handle(request),
    websocket: { message: (ws, message) => void ws.send(message), perMessageDeflate: false },
  });
  console.log(`READY ${server.port}`);
} else {
  const deno = runtime.Deno!;
  deno.serve({ port: 0, hostname: "127.0.0.1", cert, key, onListen: ({ port }) => console.log(`READY ${port}`) }, (request) => {
    if (request.headers.get("upgrade") !== "websocket") return handle(request);
    const { socket, response } = deno.upgradeWebSocket(request);
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  });
}
