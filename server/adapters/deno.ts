/**
 * The Deno adapter: `Deno.serve` + `Deno.upgradeWebSocket`, translated to the core's socket API.
 * @module
 */
import { SplitFrame } from "../../shared/binary-frame.ts";
import type { ContractTree } from "../../shared/contract.ts";
import { SUBPROTOCOL } from "../../shared/protocol.ts";
import type { Connection } from "../connection.ts";
import { routeRequest } from "../http.ts";
import type { Service } from "../service.ts";
import { closeKeepingHandshake } from "./deno-close-handshake.ts";
import type { RunningServer, ServeOptions } from "./serve-options.ts";

/** The members of Deno's WebSocket this adapter uses. */
interface DenoSocket {
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  readonly bufferedAmount: number;
  binaryType: "arraybuffer" | "blob";
  onopen: (() => void) | null;
  onmessage: ((event: { data: string | ArrayBuffer }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
}

/** The members of the `Deno` namespace this adapter uses. */
interface DenoRuntime {
  serve(
    options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request, info: { remoteAddr: { hostname: string } }) => Response | Promise<Response>,
  ): { addr: { port: number; hostname: string }; shutdown(): Promise<void> };
  upgradeWebSocket(request: Request, options: { protocol: string; idleTimeout: number }): { socket: DenoSocket; response: Response };
  unrefTimer(id: number): void;
}

/**
 * Serves a service on Deno.
 * @example const server = serveDeno(service, { port: 0 }); console.log(server.url)
 */
export function serveDeno<C extends ContractTree, A>(service: Service<C, A>, options: ServeOptions = {}): RunningServer {
  // This file only runs on Deno; the cast keeps its types free of Deno's global declarations.
  const deno = (globalThis as unknown as { Deno: DenoRuntime }).Deno;
  // Deno's own idle check is off: Tether's sweep (heartbeat.ts) closes silent peers. Deno's runs in JavaScript,
  // a timer per socket cancelled and created again on every frame received (BENCHMARKS.md, many idle connections).
  const idleTimeout = 0;
  const hostname = options.hostname ?? "127.0.0.1";
  const server = deno.serve({ port: options.port ?? 8080, hostname, onListen: () => {} }, async (request, info) => {
    const route = await routeRequest(service, request, info.remoteAddr.hostname);
    if (route.kind === "response") return route.response;
    if (route.kind === "pass") return options.fetch?.(request) ?? new Response("Not found", { status: 404 });
    const ip = info.remoteAddr.hostname; // read now: Deno refuses once the request is upgraded
    let upgraded: ReturnType<DenoRuntime["upgradeWebSocket"]>;
    try {
      upgraded = deno.upgradeWebSocket(request, { protocol: SUBPROTOCOL, idleTimeout });
    } catch {
      // The core checked the handshake (handshake.ts); anything Deno still refuses is the client's mistake, not a 500.
      return new Response("WebSocket upgrade failed", { status: 400 });
    }
    const { socket, response } = upgraded;
    // Binary frames arrive as ArrayBuffers: the core needs their size (the rate limit and 1009 apply to them too).
    socket.binaryType = "arraybuffer";
    let conn: Connection<A> | undefined;
    let receiving = false;
    const closeSocket = (code: number, reason: string) => closeKeepingHandshake(socket, code, reason, (id) => deno.unrefTimer(id));
    socket.onopen = () => {
      conn = service.open({
        // Deno writes asynchronously and never refuses: every frame is queued, its buffer reports the backlog.
        send: (frame) => {
          // A split frame is its messages one after the other (Deno sends them in order).
          if (frame instanceof SplitFrame) for (const message of frame.messages) socket.send(message);
          else socket.send(frame);
          return "queued";
        },
        // Deno reports code 0 to both ends when close() runs inside onmessage with more frames queued
        // (a flood closed with 1008): close from the next task instead. Either way the close frame
        // must survive a peer that keeps sending (deno-close-handshake.ts).
        close: (code, reason) => (receiving ? void setTimeout(() => closeSocket(code, reason), 0) : closeSocket(code, reason)),
        bufferedAmount: () => socket.bufferedAmount,
      }, route.auth, ip, route.refused);
    };
    socket.onmessage = (event) => {
      if (conn === undefined) return;
      receiving = true;
      try {
        service.receive(conn, event.data);
      } finally {
        receiving = false;
      }
    };
    socket.onclose = (event) => {
      if (conn !== undefined) service.closed(conn, event.code, event.reason);
    };
    return response;
  });
  const port = server.addr.port;
  return {
    port,
    url: `ws://${hostname}:${port}${service.options.paths[0]}`,
    async stop(retryAfterMs) {
      // close() waits (bounded) for the clients' answering close frames: shutdown() would otherwise close
      // sockets still open with its own 1001 "Server shutting down", without our retry advice.
      await service.close(retryAfterMs);
      await server.shutdown();
    },
  };
}
