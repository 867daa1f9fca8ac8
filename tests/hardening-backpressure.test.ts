/**
 * Backpressure: a client that stops reading (a hand-written TCP client that pauses) must not grow
 * server memory without bound, loses only what its topic's slow-consumer policy says (counted in
 * metrics), and a fast client on the same topic gets every message.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createService, defineContract, type RunningServer, type Service, topic } from "../server/mod.ts";
import { openRaw, type RawSocket } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";
import { connectTcp, type TcpClient, type TcpFrame } from "./fixtures/tcp-client.ts";

const Tick = v.object({ i: v.number(), pad: v.string() });
const contract = defineContract({
  ticker: topic({ message: Tick, slowConsumer: "drop-oldest", history: false }),
  latest: topic({ message: Tick, slowConsumer: "keep-latest", history: false }),
  strict: topic({ message: Tick, history: false }),
});
type Name = "ticker" | "latest" | "strict";

const LIMIT = 64 * 1024;
const PAD = "x".repeat(8 * 1024);

describe(`slow consumers on ${RUNTIME}`, () => {
  let server: RunningServer;
  let service: Service<typeof contract, undefined>;
  let fast: RawSocket;

  before(async () => {
    service = createService(contract, { ticker: {}, latest: {}, strict: {} }, { maxBufferedBytes: LIMIT, limits: { ratePerSecond: Infinity } });
    server = await serve(service);
    fast = await openRaw(server.url);
    for (const [id, name] of (["ticker", "latest", "strict"] as const).entries()) {
      fast.send({ type: "subscribe", id, topic: name });
      await fast.next((f) => f.type === "subscribed" && f.id === id);
    }
  });
  after(async () => {
    await fast.close();
    await server.stop();
  });

  /** A TCP client subscribed to one topic, then no longer reading. */
  async function stalled(name: Name): Promise<TcpClient> {
    const tcp = await connectTcp(server.url);
    tcp.send({ type: "subscribe", id: 1, topic: name });
    await tcp.next((f) => f.kind === "text" && f.text.includes('"subscribed"'));
    tcp.pause();
    return tcp;
  }

  /** Publishes ticks (yielding so sockets write) until `done` holds; returns how many were published. */
  async function publishUntil(name: Name, done: () => boolean, from = 0): Promise<number> {
    let i = from;
    const deadline = Date.now() + 30_000;
    while (!done()) {
      assert.ok(i - from < 20_000 && Date.now() < deadline, `policy never applied after ${i - from} messages`);
      service.publish(name, undefined, { i: i++, pad: PAD });
      // Small bursts: Deno counts a whole tick's sends as buffered, and this process also hosts the fast reader.
      if (i % 4 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    return i;
  }

  const ticks = (frames: TcpFrame[], name: Name) =>
    frames.flatMap((f) => (f.kind === "text" && f.text.startsWith(`{"type":"event","topic":"${name}"`) ? [JSON.parse(f.text).data.json.i as number] : []));
  const fastTicks = (name: Name) => fast.frames.filter((f) => f.type === "event" && f.topic === name).map((f) => f.data.json.i as number);
  const dropped = (name: Name) => service.metrics.dropped.get(name) ?? 0;
  /** Memory held for the slow client: its outbox never passes the limit (plus the frame being added). */
  const assertBounded = (tcp: TcpClient) => {
    const hello = JSON.parse((tcp.frames[0] as { text: string }).text);
    const conn = service.connections.get(hello.connectionId);
    assert.ok(conn?.outbox != null, "the slow client has an outbox");
    assert.ok(conn.outbox.chars <= LIMIT + PAD.length + 100, `${conn.outbox.chars} characters queued`);
    assert.ok(conn.socket.bufferedAmount() <= 2 * LIMIT + PAD.length, `${conn.socket.bufferedAmount()} bytes buffered by the runtime`);
  };

  it("drop-oldest: memory stays bounded, the oldest frames are dropped and counted, the newest arrive in order; the fast client gets all", async () => {
    const tcp = await stalled("ticker");
    const sent = await publishUntil("ticker", () => dropped("ticker") >= 20);
    assertBounded(tcp);
    const last = await publishUntil("ticker", () => true, sent);
    service.publish("ticker", undefined, { i: last, pad: "last" });
    tcp.resume();
    await tcp.next((f) => f.kind === "text" && f.text.includes('"pad":"last"'), 15_000);
    const got = ticks(tcp.frames, "ticker");
    assert.ok(got.length < last + 1, "some were dropped");
    assert.deepEqual(got, [...got].sort((a, b) => a - b), "in order, no duplicates");
    assert.equal(new Set(got).size, got.length);
    assert.equal(got.at(-1), last);
    await until(() => fastTicks("ticker").length === last + 1, 15_000, "the fast client to get every tick");
    assert.deepEqual(fastTicks("ticker"), Array.from({ length: last + 1 }, (_, i) => i));
    assert.ok(service.renderMetrics().includes('tether_messages_dropped_total{topic="ticker"}'));
    // Published once each, delivered to both subscribers (counted on Bun's native path too).
    assert.equal(service.metrics.published, last + 1);
    assert.equal(service.metrics.delivered, 2 * (last + 1));
    await until(() => service.stats().queued === 0, 5000, "the outbox to empty");
    tcp.destroy();
  });

  it("keep-latest: a slow client gets the latest message, not every one", async () => {
    const tcp = await stalled("latest");
    const sent = await publishUntil("latest", () => dropped("latest") >= 20);
    service.publish("latest", undefined, { i: sent, pad: "last" });
    assertBounded(tcp);
    tcp.resume();
    await tcp.next((f) => f.kind === "text" && f.text.includes('"pad":"last"'), 15_000);
    const got = ticks(tcp.frames, "latest");
    assert.ok(got.length < sent + 1);
    assert.equal(got.at(-1), sent);
    await until(() => fastTicks("latest").length === sent + 1, 15_000, "the fast client to get every message");
    tcp.destroy();
  });

  it("disconnect (the default): the slow client is closed with 4008 once its buffer passes the limit; the fast client is unaffected", async () => {
    const tcp = await stalled("strict");
    const before = service.connections.size;
    const sent = await publishUntil("strict", () => service.connections.size < before);
    tcp.resume();
    const close = await tcp.next((f) => f.kind === "close", 15_000).catch((e) => {
      throw new Error(`${e}: ${JSON.stringify([...service.metrics.closes])} ${tcp.frames.length} ${JSON.stringify(tcp.frames.slice(-2)).slice(0, 300)}`);
    });
    assert.deepEqual(close, { kind: "close", code: 4008, reason: "slow consumer" });
    assert.equal(service.metrics.closes.get(4008), 1);
    await until(() => fastTicks("strict").length === sent, 15_000, "the fast client to get every message");
    tcp.destroy();
  });
});
