/**
 * The raw Bun echo: plain `Bun.serve` websocket handlers that parse each frame and re-stringify it
 * (bun-echo.ts), with fan-out through Bun's native `server.publish`. The practical limit for Tether
 * on Bun. Prints `READY <port>`.
 * @module
 */
import { echo, serve } from "./bun-echo.ts";
import { collectOnSignal } from "./collect-on-signal.ts";

const server = serve<undefined>({
  port: 0,
  hostname: "127.0.0.1",
  fetch(request, srv) {
    return srv.upgrade(request) ? undefined : new Response("Upgrade required", { status: 426 });
  },
  websocket: {
    message(ws, message) {
      echo(server, ws, String(message));
    },
    perMessageDeflate: false,
  },
});
console.log(`READY ${server.port}`);
collectOnSignal();
