/**
 * The raw Bun echo with the least heartbeat a browser client can use: the floor of the idle scenario.
 * A browser's JavaScript sees only data frames, so each side sends one data frame per interval: the
 * server beats every socket once per interval (Tether's `{"type":"pong"}`, one native publish per
 * slice, on Tether's own schedule: server/beat-schedule.ts), the client answers, a `ping` is
 * answered as Tether answers it, a socket silent for `(I + T) / 2` is pinged once and one silent for
 * the timeout is closed with 4000. Nothing else: no envelope, no validation, no bookkeeping beyond the
 * time of each socket's last frame. Otherwise the raw echo (bun-echo.ts). Prints `READY <port>`.
 * @module
 */
import { BeatSchedule, slicesOf } from "../../server/beat-schedule.ts";
import { BEAT, DEFAULT_TIMING } from "../../shared/heartbeat.ts";
import { echo, type RawSocket, serve } from "./bun-echo.ts";
import { collectOnSignal } from "./collect-on-signal.ts";

/** What each socket keeps: when its last frame came, and that time again once it was pinged for the silence after it. */
interface Seen {
  at: number;
  pinged: number;
}

const { interval, timeout } = DEFAULT_TIMING;
const slices = slicesOf(DEFAULT_TIMING);
const schedule = new BeatSchedule(slices, interval / slices);
const pingAfter = (interval + timeout) / 2;
const sockets = new Set<RawSocket<Seen>>();
let joined = 0;

const server = serve<Seen>({
  port: 0,
  hostname: "127.0.0.1",
  fetch(request, srv) {
    return srv.upgrade(request, { data: { at: performance.now(), pinged: 0 } }) ? undefined : new Response("Upgrade required", { status: 426 });
  },
  websocket: {
    open(ws) {
      sockets.add(ws);
      ws.subscribe(`beat${joined++ % slices}`);
    },
    message(ws, message) {
      ws.data.at = performance.now();
      if (message === BEAT) return;
      const text = String(message);
      if (text.startsWith('{"type":"ping"')) {
        const ts = (JSON.parse(text) as { ts?: number }).ts;
        return void ws.send(ts === undefined ? BEAT : `{"type":"pong","ts":${ts}}`);
      }
      echo(server, ws, text);
    },
    close(ws) {
      sockets.delete(ws);
    },
    perMessageDeflate: false,
  },
});

schedule.start(performance.now());
setInterval(() => {
  const now = performance.now();
  for (const ws of sockets) {
    if (now - ws.data.at > timeout) ws.close(4000, "heartbeat timeout");
    else if (now - ws.data.at > pingAfter && ws.data.pinged !== ws.data.at) (ws.data.pinged = ws.data.at, ws.send('{"type":"ping"}'));
  }
  const { first, count } = schedule.due(now);
  for (let i = 0; i < count; i++) server.publish(`beat${(first + i) % slices}`, BEAT);
}, interval / slices);

console.log(`READY ${server.port}`);
collectOnSignal();
