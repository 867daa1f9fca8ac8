/**
 * All-but-sender publishes (a client `publish` frame, `ctx.broadcast`) over real sockets: every
 * other subscriber gets each message exactly once in offset order (a WebSocket client, an HTTP
 * fallback session, a slow consumer with an outbox), the sender gets none; on Bun they leave from
 * the sender's socket through the native channel (`ws.publish` skips the sender).
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createClient } from "../client/mod.ts";
import { httpFallback } from "../client/http.ts";
import { createService, defineContract, procedure, type RunningServer, type Service, topic } from "../server/mod.ts";
import { type HttpProxy, startHttpProxy } from "./fixtures/http-proxy.ts";
import { type Frame, openRaw, type RawSocket } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";
import { connectTcp, type TcpClient } from "./fixtures/tcp-client.ts";

const Line = v.object({ i: v.number(), pad: v.string() });
const contract = defineContract({
  chat: topic({ message: Line, clientPublish: true, history: {}, slowConsumer: "drop-oldest" }),
  shout: procedure({ input: v.number(), output: v.boolean() }),
});

const LIMIT = 64 * 1024;
const PAD = "x".repeat(8 * 1024);
/** Messages of each kind the sender publishes: client publishes 0..N-1, broadcasts 1000..1000+N-1. */
const N = 40;

describe(`all-but-sender publishes on ${RUNTIME}`, () => {
  let service: Service<typeof contract, undefined>;
  let server: RunningServer;
  let proxy: HttpProxy;

  before(async () => {
    service = createService(contract, {
      chat: {},
      shout: async (i, ctx) => (await ctx.broadcast("chat", undefined, { i, pad: "" }), true),
    }, { maxBufferedBytes: LIMIT, limits: { ratePerSecond: Infinity } });
    server = await serve(service);
    proxy = await startHttpProxy([server.port]);
  });
  after(async () => {
    await proxy.close();
    await server.stop();
  });

  const subscribe = async (raw: RawSocket) => {
    raw.send({ type: "subscribe", id: "s", topic: "chat" });
    await raw.next((f) => f.type === "subscribed" && f.id === "s");
  };
  const idOf = (raw: RawSocket) => raw.frames.find((f) => f.type === "hello")!.connectionId as string;
  /** The chat events among raw frames. */
  const events = (frames: Frame[]) => frames.filter((f) => f.type === "event" && f.topic === "chat") as Frame[];
  /** The sender's messages a receiver got, in arrival order. */
  const sent = (list: { i: number }[]) => list.map((m) => m.i).filter((i) => i >= 0);

  it("reach everyone but the sender exactly once, in offset order: WebSocket, HTTP fallback, slow consumer", async () => {
    const sender = await openRaw(server.url);
    const other = await openRaw(server.url);
    await subscribe(sender);
    await subscribe(other);
    const fallback = httpFallback({ probeInterval: 200 });
    const http = createClient<typeof contract>(proxy.via(server.url), { WebSocket: fallback.WebSocket });
    const viaHttp: { i: number }[] = [];
    const sub = http.api.chat.subscribe(undefined, { onData: (m) => viaHttp.push(m) });
    let tcp: TcpClient | undefined;
    try {
      await sub.ready;
      assert.equal(fallback.transport, "http");
      // A slow consumer: a TCP client that stopped reading, filled until the core gave it an outbox.
      tcp = await connectTcp(server.url);
      tcp.send({ type: "subscribe", id: 1, topic: "chat" });
      const hello = await tcp.next((f) => f.kind === "text" && f.text.includes('"hello"'));
      await tcp.next((f) => f.kind === "text" && f.text.includes('"subscribed"'));
      const slowConn = service.connections.get(JSON.parse((hello as { text: string }).text).connectionId)!;
      tcp.pause();
      const deadline = Date.now() + 30_000;
      for (let k = 0; slowConn.outbox === null; k++) {
        assert.ok(k < 20_000 && Date.now() < deadline, "the paused client never went slow");
        await service.publish("chat", undefined, { i: -1, pad: PAD });
        if (k % 4 === 3) await new Promise((r) => setTimeout(r, 0));
      }

      // On Bun every one leaves through the sender's own socket: count its native publishes.
      const socket = service.connections.get(idOf(sender))!.socket;
      let native = 0;
      const publish = socket.publish?.bind(socket);
      if (publish !== undefined) socket.publish = (channel, frame) => (native++, publish(channel, frame));
      for (let k = 0; k < N; k++) {
        sender.send({ type: "publish", id: `p${k}`, topic: "chat", data: { json: { i: k, pad: "" } } });
        sender.send({ type: "call", id: `c${k}`, method: "shout", input: { json: 1000 + k } });
      }
      await until(() => sender.frames.filter((f) => f.type === "result").length === 2 * N, 15_000, "every publish and call answered");
      assert.equal(sender.frames.filter((f) => f.type === "error").length, 0);
      assert.equal(native, RUNTIME === "bun" ? 2 * N : 0, "native publishes from the sender's socket");
      assert.ok(slowConn.outbox !== null, "the slow consumer stayed slow while they were published");

      const expected = [...Array.from({ length: N }, (_, k) => k), ...Array.from({ length: N }, (_, k) => 1000 + k)].sort((a, b) => a - b);
      await until(() => sent(events(other.frames).map((e) => e.data.json)).length >= 2 * N, 15_000, "the other socket's messages");
      await until(() => sent(viaHttp).length >= 2 * N, 15_000, "the HTTP session's messages");
      tcp.resume();
      const slowEvents = () => events(tcp!.frames.flatMap((f) => (f.kind === "text" ? [JSON.parse(f.text) as Frame] : [])));
      await until(() => sent(slowEvents().map((e) => e.data.json)).length >= 2 * N, 15_000, "the slow consumer's messages");

      const order = sent(events(other.frames).map((e) => e.data.json));
      assert.deepEqual([...order].sort((a, b) => a - b), expected, "the other socket: each exactly once");
      assert.deepEqual(sent(viaHttp), order, "the HTTP session: each exactly once, same order");
      assert.deepEqual(sent(slowEvents().map((e) => e.data.json)), order, "the slow consumer: each exactly once, same order");
      for (const [name, list] of [["other", events(other.frames)], ["slow", slowEvents()]] as const) {
        const offsets = list.map((e) => e.offset);
        assert.deepEqual(offsets, Array.from({ length: offsets.length }, (_, k) => offsets[0]! + k), `${name}: consecutive offsets`);
      }
      assert.equal(service.metrics.dropped.get("chat") ?? 0, 0, "nothing dropped for the slow consumer");
      assert.deepEqual(sent(events(sender.frames).map((e) => e.data.json)), [], "the sender got none of its own");
    } finally {
      tcp?.destroy();
      http.close();
      await sender.close();
      await other.close();
    }
  });
});
