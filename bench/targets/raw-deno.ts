/**
 * The raw Deno echo: plain `Deno.serve` + `Deno.upgradeWebSocket` that parses each frame and
 * re-stringifies it; fan-out stringifies once and loops over a Set of sockets. The practical limit
 * for Tether on Deno. Same frames as raw-bun.ts. Prints `READY <port>`.
 * @module
 */
import { collectOnSignal } from "./collect-on-signal.ts";

/** A frame as the raw targets understand it. */
interface RawFrame {
  id?: number;
  input?: unknown;
  sub?: string;
  pub?: unknown;
}

const subscribers = new Set<WebSocket>();

const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (request) => {
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.onmessage = (event) => {
    const frame = JSON.parse(String(event.data)) as RawFrame;
    if (frame.sub !== undefined) {
      subscribers.add(socket);
      socket.send(JSON.stringify({ subscribed: frame.sub }));
    } else if (frame.pub !== undefined) {
      const text = JSON.stringify({ topic: "feed", data: frame.pub });
      for (const s of subscribers) s.send(text);
    } else {
      socket.send(JSON.stringify({ id: frame.id, output: frame.input }));
    }
  };
  socket.onclose = () => subscribers.delete(socket);
  return response;
});
console.log(`READY ${server.addr.port}`);
collectOnSignal();
