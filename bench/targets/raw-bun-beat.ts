/**
 * The raw Bun echo with the least heartbeat a browser client can use: the floor of the idle scenario.
 * A browser's JavaScript sees only data frames, so each side sends one data frame per interval: the
 * server beats every socket once per interval (Tether's `{"type":"pong"}`, one native publish per
 * slice, the slices spread over the interval as Tether spreads them), the client answers, a `ping`
 * is answered with its `ts`, and a socket silent for the timeout is closed with 4000. Nothing else:
 * no envelope, no validation, no bookkeeping beyond the time of each socket's last frame. Otherwise
 * the raw echo (raw-bun.ts). Prints `READY <port>`.
 * @module
 */
import { BEAT, DEFAULT_TIMING } from "../../shared/heartbeat.ts";
import { collectOnSignal } from "./collect-on-signal.ts";

/** What each socket keeps: when its last frame came. */
interface Seen {
  at: number;
}

/** The members of Bun's ServerWebSocket used here. */
interface RawSocket {
  data: Seen;
  send(data: string): number;
  subscribe(channel: string): void;
  close(code: number, reason: string): void;
}

/** The members of Bun's Server used here. */
interface RawServer {
  port: number;
  upgrade(request: Request, options: { data: Seen }): boolean;
  publish(channel: string, data: string): number;
}

/** A frame of the raw echo. */
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
      websocket: {
        open(ws: RawSocket): void;
        message(ws: RawSocket, message: string | Uint8Array): void;
        close(ws: RawSocket): void;
        perMessageDeflate: boolean;
      };
    }): RawServer;
  };
}).Bun;

const { interval, timeout } = DEFAULT_TIMING;
/** As Tether's sweep: about every timeout / 20, a whole fraction of the interval. */
const slices = Math.ceil(interval / Math.min(interval, timeout / 20));
const sockets = new Set<RawSocket>();
let joined = 0;

const server = bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(request, srv) {
    return srv.upgrade(request, { data: { at: Date.now() } }) ? undefined : new Response("Upgrade required", { status: 426 });
  },
  websocket: {
    open(ws) {
      sockets.add(ws);
      ws.subscribe(`beat${joined++ % slices}`);
    },
    message(ws, message) {
      ws.data.at = Date.now();
      if (message === BEAT) return;
      const text = String(message);
      if (text.startsWith('{"type":"ping"')) return void ws.send(`{"type":"pong","ts":${JSON.parse(text).ts}}`);
      const frame = JSON.parse(text) as RawFrame;
      if (frame.sub !== undefined) {
        ws.subscribe(frame.sub);
        ws.send(JSON.stringify({ subscribed: frame.sub }));
      } else if (frame.pub !== undefined) {
        server.publish("feed", JSON.stringify({ topic: "feed", data: frame.pub }));
      } else {
        ws.send(JSON.stringify({ id: frame.id, output: frame.input }));
      }
    },
    close(ws) {
      sockets.delete(ws);
    },
    perMessageDeflate: false,
  },
});

let sweeps = 0;
setInterval(() => {
  const now = Date.now();
  for (const ws of sockets) if (now - ws.data.at > timeout) ws.close(4000, "heartbeat timeout");
  server.publish(`beat${sweeps++ % slices}`, BEAT);
}, interval / slices);

console.log(`READY ${server.port}`);
collectOnSignal();
