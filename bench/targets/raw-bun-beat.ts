/**
 * The raw Bun echo with the least heartbeat a browser client can use: the floor of the idle scenario.
 * A browser's JavaScript sees only data frames, so each side sends one data frame per interval: the
 * server beats every socket once per interval (Tether's `{"type":"pong"}`, one native publish per
 * slice, the slices spread over the interval as Tether spreads them), the client answers, a `ping`
 * is answered with its `ts`, and a socket silent for the timeout is closed with 4000. Nothing else:
 * no envelope, no validation, no bookkeeping beyond the time of each socket's last frame. Otherwise
 * the raw echo (bun-echo.ts). Prints `READY <port>`.
 * @module
 */
import { BEAT, DEFAULT_TIMING } from "../../shared/heartbeat.ts";
import { echo, type RawSocket, serve } from "./bun-echo.ts";
import { collectOnSignal } from "./collect-on-signal.ts";

/** What each socket keeps: when its last frame came. */
interface Seen {
  at: number;
}

const { interval, timeout } = DEFAULT_TIMING;
/** As Tether's sweep: about every timeout / 20, a whole fraction of the interval. */
const slices = Math.ceil(interval / Math.min(interval, timeout / 20));
const sockets = new Set<RawSocket<Seen>>();
let joined = 0;

const server = serve<Seen>({
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
      echo(server, ws, text);
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
