/**
 * The raw Bun echo's parts, shared by the raw targets: the few members of `Bun.serve` they use (typed
 * here so the targets stay free of bun-types) and the echo of one frame.
 * Frames: `{"id":n,"input":x}` -> `{"id":n,"output":x}`; `{"sub":"feed"}` -> `{"subscribed":"feed"}`;
 * `{"pub":m}` -> `{"topic":"feed","data":m}` to every subscriber.
 * @module
 */

/** The members of Bun's ServerWebSocket the raw targets use; `data` is what the upgrade gave. */
export interface RawSocket<D = undefined> {
  data: D;
  send(data: string): number;
  subscribe(channel: string): void;
  close(code: number, reason: string): void;
}

/** The members of Bun's Server the raw targets use. */
export interface RawServer<D = undefined> {
  port: number;
  upgrade(request: Request, options?: { data: D }): boolean;
  publish(channel: string, data: string): number;
}

/** The options of `Bun.serve` the raw targets set. */
export interface RawServeOptions<D> {
  port: number;
  hostname: string;
  fetch(request: Request, server: RawServer<D>): Response | undefined;
  websocket: {
    open?(ws: RawSocket<D>): void;
    message(ws: RawSocket<D>, message: string | Uint8Array): void;
    close?(ws: RawSocket<D>): void;
    perMessageDeflate: boolean;
  };
}

/** `Bun.serve`, typed as the raw targets use it (they only run on Bun). */
export function serve<D>(options: RawServeOptions<D>): RawServer<D> {
  return (globalThis as unknown as { Bun: { serve(options: RawServeOptions<D>): RawServer<D> } }).Bun.serve(options);
}

/** A frame as the raw targets understand it. */
interface RawFrame {
  id?: number;
  input?: unknown;
  sub?: string;
  pub?: unknown;
}

/** Echoes one frame as the raw echo does: parse it, answer or publish, re-stringify. */
export function echo<D>(server: RawServer<D>, ws: RawSocket<D>, text: string): void {
  const frame = JSON.parse(text) as RawFrame;
  if (frame.sub !== undefined) {
    ws.subscribe(frame.sub);
    ws.send(JSON.stringify({ subscribed: frame.sub }));
  } else if (frame.pub !== undefined) {
    server.publish("feed", JSON.stringify({ topic: "feed", data: frame.pub }));
  } else {
    ws.send(JSON.stringify({ id: frame.id, output: frame.input }));
  }
}
