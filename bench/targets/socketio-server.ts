/**
 * The Socket.IO v4 server both Socket.IO targets run, on Node or Bun: `echo` answers with an ack,
 * `sub` joins the `feed` room, `pub` broadcasts to it. Prints `READY <port>`.
 * @module
 */
import { collectOnSignal } from "./collect-on-signal.ts";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";

/** Serves Socket.IO on 127.0.0.1, a free port, over the one transport given. */
export function serveSocketIo(transport: "websocket" | "polling"): void {
  const http = createServer();
  const io = new Server(http, { transports: [transport], serveClient: false });

  io.on("connection", (socket) => {
    socket.on("echo", (input: unknown, ack: (output: unknown) => void) => ack(input));
    socket.on("sub", (ack: (ok: boolean) => void) => {
      socket.join("feed");
      ack(true);
    });
    socket.on("pub", (message: unknown) => io.to("feed").emit("feed", message));
  });

  http.listen(0, "127.0.0.1", () => console.log(`READY ${(http.address() as AddressInfo).port}`));
  collectOnSignal();
}
