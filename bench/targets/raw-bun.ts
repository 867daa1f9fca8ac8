/**
 * The raw Bun echo: plain `Bun.serve` websocket handlers that parse each frame and re-stringify it,
 * with fan-out through Bun's native `server.publish`. The practical limit for Tether on Bun.
 * Frames: `{"id":n,"input":x}` -> `{"id":n,"output":x}`; `{"sub":"feed"}` -> `{"subscribed":"feed"}`;
 * `{"pub":m}` -> `{"topic":"feed","data":m}` to every subscriber. Prints `READY <port>`.
 * @module
 */
import { collectOnSignal } from "./collect-on-signal.ts";

/** The members of Bun's ServerWebSocket used here. */
interface RawSocket {
  send(data: string): number;
  subscribe(channel: string): void;
}

/** The members of Bun's Server used here. */
interface RawServer {
  port: number;
  upgrade(request: Request): boolean;
  publish(channel: string, data: string): number;
}

/** A frame as the raw targets understand it. */
interface RawFrame {
  id?: number;
  input?: unknown;
  sub?: string;
  pub?: unknown;
}

// This file only runs on Bun; the cast keeps it free of bun-types.
const bun = (globalThis as unknown as {
  Bun: {
    serve(options: {
      port: number;
      hostname: string;
      fetch(request: Request, server: RawServer): Response | undefined;
      websocket: { message(ws: RawSocket, message: string | Uint8Array): void; perMessageDeflate: boolean };
    }): RawServer;
  };
}).Bun;

const server = bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(request, srv) {
    return srv.upgrade(request) ? undefined : new Response("Upgrade required", { status: 426 });
  },
  websocket: {
    message(ws, message) {
      const frame = JSON.parse(String(message)) as RawFrame;
      if (frame.sub !== undefined) {
        ws.subscribe(frame.sub);
        ws.send(JSON.stringify({ subscribed: frame.sub }));
      } else if (frame.pub !== undefined) {
        server.publish("feed", JSON.stringify({ topic: "feed", data: frame.pub }));
      } else {
        ws.send(JSON.stringify({ id: frame.id, output: frame.input }));
      }
    },
    perMessageDeflate: false,
  },
});
console.log(`READY ${server.port}`);
collectOnSignal();
