/**
 * Publishes to one room (`{ room }`) over real sockets: the room's members among the topic's
 * subscribers get each message once, everyone else none, and membership changes (join, leave,
 * unsubscribe and subscribe again, close) take effect for the next publish. On Bun each such
 * publish is one native publish on the room's channel (room-channels.ts); on Deno they are sent
 * one by one, with the same outcome.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createService, defineContract, procedure, type RunningServer, type Service, topic } from "../server/mod.ts";
import { type Frame, openRaw, type RawSocket } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";
import { connectTcp } from "./fixtures/tcp-client.ts";

const contract = defineContract({
  feed: topic({ message: v.object({ i: v.number(), pad: v.optional(v.string()) }), history: {}, slowConsumer: "drop-oldest" }),
  join: procedure({ input: v.string(), output: v.boolean() }),
  leave: procedure({ input: v.string(), output: v.boolean() }),
});

/** The service's buffer limit: a client that stops reading passes it after a few padded messages. */
const LIMIT = 64 * 1024;
const PAD = "x".repeat(8 * 1024);

describe(`publishes to a room on ${RUNTIME}`, () => {
  let service: Service<typeof contract, undefined>;
  let server: RunningServer;
  /** Native publishes by channel (Bun only). */
  const native = new Map<string, number>();

  before(async () => {
    service = createService(contract, {
      feed: {},
      join: (room, ctx) => (ctx.join(room), true),
      leave: (room, ctx) => (ctx.leave(room), true),
    }, { maxBufferedBytes: LIMIT, limits: { ratePerSecond: Infinity } });
    const use = service.useNativePublish.bind(service);
    service.useNativePublish = (publish) => use((channel, frame) => (native.set(channel, (native.get(channel) ?? 0) + 1), publish(channel, frame)));
    server = await serve(service);
  });
  after(async () => {
    await server.stop();
  });

  let calls = 0;
  const call = async (raw: RawSocket, method: "join" | "leave", room: string) => {
    const id = `c${++calls}`;
    raw.send({ type: "call", id, method, input: { json: room } });
    assert.equal((await raw.next((f) => f.id === id)).type, "result");
  };
  const subscribe = async (raw: RawSocket, id: string) => {
    raw.send({ type: "subscribe", id, topic: "feed" });
    await raw.next((f) => f.type === "subscribed" && f.id === id);
  };
  const unsubscribe = async (raw: RawSocket, id: string) => {
    raw.send({ type: "unsubscribe", id, topic: "feed", key: "" });
    await raw.next((f) => f.type === "unsubscribed" && f.id === id);
  };
  /** The feed messages a socket got, in arrival order. */
  const got = (raw: RawSocket) => raw.frames.filter((f: Frame) => f.type === "event" && f.topic === "feed").map((f: Frame) => f.data.json.i as number);
  const publishTo = async (room: string | undefined, i: number) => {
    await service.publish("feed", undefined, { i }, room === undefined ? undefined : { room });
  };

  it("members among the subscribers get each once, others none; joins, leaves and resubscribes count from the next publish", async () => {
    const [a, b, c, d] = await Promise.all([0, 1, 2, 3].map(() => openRaw(server.url)));
    try {
      for (const [raw, k] of [[a, 1], [b, 2], [c, 3]] as const) await subscribe(raw!, `s${k}`);
      // d is in the room but not subscribed: a room publish never reaches a non-subscriber.
      for (const raw of [a, b, d]) await call(raw!, "join", "r");
      await call(c!, "join", "other");
      const roomChannelPublishes = () => [...native].filter(([channel]) => channel.includes("\u0000r")).reduce((n, [, k]) => n + k, 0);
      const delivered = service.metrics.delivered;

      await publishTo("r", 1);
      await until(() => got(a!).includes(1) && got(b!).includes(1), 5000, "the members' first message");
      assert.equal(service.metrics.delivered - delivered, 2, "counted: the two subscribed members");

      await call(c!, "join", "r");
      await call(b!, "leave", "r");
      await publishTo("r", 2);
      await until(() => got(a!).includes(2) && got(c!).includes(2), 5000, "the members' second message");

      await unsubscribe(a!, "s1");
      await publishTo("r", 3);
      await until(() => got(c!).includes(3), 5000, "c's third message");
      await subscribe(a!, "s1again");
      await publishTo("r", 4);
      await until(() => got(a!).includes(4) && got(c!).includes(4), 5000, "the members' fourth message");

      // A marker to everyone: whatever a room publish sent a socket arrived before it.
      await publishTo(undefined, 99);
      await until(() => [a, b, c].every((raw) => got(raw!).includes(99)), 5000, "the marker");
      assert.deepEqual(got(a!), [1, 2, 4, 99], "a: in the room throughout, unsubscribed for 3");
      assert.deepEqual(got(b!), [1, 99], "b: left before 2");
      assert.deepEqual(got(c!), [2, 3, 4, 99], "c: joined before 2");
      assert.deepEqual(got(d!), [], "d: in the room, never subscribed");
      assert.equal(roomChannelPublishes(), RUNTIME === "bun" ? 4 : 0, "one native publish per room publish on Bun");
    } finally {
      await Promise.all([a, b, c, d].map((raw) => raw!.close()));
    }
    await until(() => service.stats().connections === 0, 5000, "the connections released");
    const stats = service.stats();
    assert.equal(stats.channels, 0);
    assert.equal(stats.rooms, 0);
  });

  it("a member that closes is gone from the room's channel; the rest still get each message", async () => {
    const [a, b] = await Promise.all([0, 1].map(() => openRaw(server.url)));
    try {
      for (const [raw, k] of [[a, 1], [b, 2]] as const) {
        await subscribe(raw!, `s${k}`);
        await call(raw!, "join", "q");
      }
      await publishTo("q", 1);
      await until(() => got(a!).includes(1) && got(b!).includes(1), 5000, "both members' first message");
      await b!.close();
      await until(() => service.stats().connections === 1, 5000, "b released");
      const delivered = service.metrics.delivered;
      await publishTo("q", 2);
      await until(() => got(a!).includes(2), 5000, "a's second message");
      assert.equal(service.metrics.delivered - delivered, 1);
      assert.deepEqual(got(a!), [1, 2]);
    } finally {
      await a!.close();
    }
  });

  it("a member that goes slow gets the room's messages through its outbox, once each, and through the room's channel again once caught up", async () => {
    const fast = await openRaw(server.url);
    const tcp = await connectTcp(server.url);
    try {
      await subscribe(fast, "s");
      await call(fast, "join", "z");
      tcp.send({ type: "subscribe", id: 1, topic: "feed" });
      const hello = await tcp.next((f) => f.kind === "text" && f.text.includes('"hello"'));
      await tcp.next((f) => f.kind === "text" && f.text.includes('"subscribed"'));
      tcp.send({ type: "call", id: 2, method: "join", input: { json: "z" } });
      await tcp.next((f) => f.kind === "text" && f.text.includes('"result"'));
      const slowConn = service.connections.get(JSON.parse((hello as { text: string }).text).connectionId)!;
      // The room's channel exists before the member goes slow.
      await publishTo("z", 1);
      tcp.pause();
      const deadline = Date.now() + 30_000;
      for (let k = 0; slowConn.outbox === null; k++) {
        assert.ok(k < 20_000 && Date.now() < deadline, "the paused client never went slow");
        await service.publish("feed", undefined, { i: -1, pad: PAD }, { room: "z" });
        if (k % 4 === 3) await new Promise((r) => setTimeout(r, 0));
      }
      for (let i = 2; i <= 5; i++) await publishTo("z", i);
      assert.ok(slowConn.outbox !== null, "still slow while 2..5 were published");
      tcp.resume();
      await until(() => slowConn.outbox === null, 15_000, "the slow member to catch up");
      for (let i = 6; i <= 9; i++) await publishTo("z", i);
      const slowGot = () =>
        tcp.frames.flatMap((f) => (f.kind === "text" ? [JSON.parse(f.text) as Frame] : []))
          .filter((f) => f.type === "event").map((f) => f.data.json.i as number).filter((i) => i > 0);
      await until(() => slowGot().includes(9) && got(fast).includes(9), 15_000, "the last message");
      assert.deepEqual(slowGot(), [1, 2, 3, 4, 5, 6, 7, 8, 9], "the slow member: each once, in order");
      assert.deepEqual(got(fast).filter((i) => i > 0), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
      assert.equal(service.metrics.dropped.get("feed") ?? 0, 0, "nothing dropped");
    } finally {
      tcp.destroy();
      await fast.close();
    }
  });
});
