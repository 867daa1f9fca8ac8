/**
 * The binary echo bench's server (bench/binary-echo.ts): on the runtime running it, a Tether service
 * with an `echo` procedure and, beside it, a raw WebSocket server that sends every binary message
 * straight back. Prints `READY <tether port> <raw port>`.
 * @module
 */
import * as v from "valibot";
import { createService, defineContract, procedure } from "../../server/mod.ts";

/** Frames up to 4 MiB: the bench sends 1 MiB values. */
const MAX_FRAME = 4 * 1024 * 1024;

const contract = defineContract({ echo: procedure({ input: v.instance(Uint8Array), output: v.instance(Uint8Array) }) });
const service = createService(contract, { echo: (bytes) => bytes }, { limits: { maxFrameBytes: MAX_FRAME } });

// deno-lint-ignore no-explicit-any
const runtime = globalThis as any;
let tetherPort: number;
let rawPort: number;
if ("Bun" in runtime) {
  tetherPort = (await import("../../server/adapters/bun.ts")).serveBun(service, { port: 0 }).port;
  rawPort = runtime.Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (request: Request, server: { upgrade(r: Request): boolean }) => server.upgrade(request) ? undefined : new Response("", { status: 400 }),
    websocket: { maxPayloadLength: MAX_FRAME, message: (ws: { send(data: unknown): void }, message: unknown) => ws.send(message) },
  }).port;
} else {
  tetherPort = (await import("../../server/adapters/deno.ts")).serveDeno(service, { port: 0 }).port;
  rawPort = runtime.Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (request: Request) => {
    const { socket, response } = runtime.Deno.upgradeWebSocket(request);
    socket.onmessage = (event: MessageEvent) => socket.send(event.data);
    return response;
  }).addr.port;
}
console.log(`READY ${tetherPort} ${rawPort}`);
