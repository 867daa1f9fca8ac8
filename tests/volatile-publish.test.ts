/**
 * Volatile publish (`{ volatile: true }`, Socket.IO's `volatile.emit`): a subscriber whose socket is
 * backed up does not get the message (counted in /metrics), a ready one does; it gets no offset, is
 * never kept in history and never replayed. With the memory broker and with Redis.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import type { Broker } from "../server/broker/broker.ts";
import { createRedisBroker } from "../server/broker/redis.ts";
import { createService, defineContract, procedure, type RunningServer, type Service, topic } from "../server/mod.ts";
import { openRaw, type RawSocket } from "./fixtures/raw-socket.ts";
import { redisMissing, type RedisProcess, startRedis } from "./fixtures/redis.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";
import { connectTcp } from "./fixtures/tcp-client.ts";

const Tick = v.object({ i: v.number(), pad: v.string() });
const contract = defineContract({
  ticks: topic({ message: Tick, slowConsumer: "drop-oldest" }),
  shout: procedure({ input: v.string() }),
});

const LIMIT = 64 * 1024;
const PAD = "x".repeat(8 * 1024);
const VOLATILE = 5;

function volatileSuite(name: string, makeBroker: () => Promise<Broker | undefined>, skip?: string) {
  describe(`volatile publish with the ${name} broker on ${RUNTIME}`, { skip }, () => {
    let server: RunningServer;
    let service: Service<typeof contract, undefined>;
    let fast: RawSocket;

    before(async () => {
      const broker = await makeBroker();
      service = createService(contract, {
        ticks: {},
        shout: (pad, ctx) => ctx.broadcast("ticks", undefined, { i: 0, pad }, { volatile: true }),
      }, {
        maxBufferedBytes: LIMIT,
        limits: { ratePerSecond: Infinity },
        ...(broker === undefined ? {} : { broker }),
      });
      server = await serve(service);
      fast = await openRaw(server.url);
      fast.send({ type: "subscribe", id: 1, topic: "ticks" });
      await fast.next((f) => f.type === "subscribed");
    });
    after(async () => {
      await fast?.close();
      await server?.stop();
    });

    it("a backed-up subscriber does not get it (counted), a ready one does, without offset; history never holds it", async () => {
      const tcp = await connectTcp(server.url);
      tcp.send({ type: "subscribe", id: 1, topic: "ticks" });
      await tcp.next((f) => f.kind === "text" && f.text.includes('"subscribed"'));
      const hello = JSON.parse((tcp.frames[0] as { text: string }).text);
      tcp.pause();
      // Regular messages until the stalled socket is backed up (it has an outbox).
      let i = 0;
      const deadline = Date.now() + 30_000;
      while (service.connections.get(hello.connectionId)?.outbox == null) {
        assert.ok(i < 20_000 && Date.now() < deadline, `the reader never backed up after ${i} messages`);
        await service.publish("ticks", undefined, { i: i++, pad: PAD });
        if (i % 4 === 0) await new Promise((r) => setTimeout(r, 0));
      }
      const dropsBefore = service.metrics.volatileDropped.get("ticks") ?? 0;
      for (let n = 0; n < VOLATILE; n++) await service.publish("ticks", undefined, { i: -1 - n, pad: "volatile" }, { volatile: true });
      const volatileFrames = () => fast.frames.filter((f) => f.type === "event" && f.data.json.pad === "volatile");
      await until(() => volatileFrames().length === VOLATILE, 15_000, "the ready subscriber to get every volatile message");
      for (const frame of volatileFrames()) assert.equal(frame.offset, undefined, "a volatile event carries no offset");
      assert.equal((service.metrics.volatileDropped.get("ticks") ?? 0) - dropsBefore, VOLATILE, "one drop per volatile message");
      assert.match(service.renderMetrics(), /tether_messages_volatile_dropped_total\{topic="ticks"\} \d+/);

      // Once it reads again, the slow subscriber gets the regular messages it was owed, never a volatile one.
      await service.publish("ticks", undefined, { i, pad: "last" });
      tcp.resume();
      await tcp.next((f) => f.kind === "text" && f.text.includes('"pad":"last"'), 15_000);
      assert.ok(!tcp.frames.some((f) => f.kind === "text" && f.text.includes('"volatile"')), "the backed-up subscriber got no volatile message");
      tcp.destroy();

      // A late subscriber asking for the last 5 offsets (the volatile ones were published among them) gets regular messages only.
      const subscribed = fast.frames.find((f) => f.type === "subscribed")!;
      const late = await openRaw(server.url);
      late.send({ type: "subscribe", id: 7, topic: "ticks", since: { epoch: subscribed.epoch, offset: i + 1 - 5 } });
      const answer = await late.next((f) => f.type === "subscribed", 15_000);
      assert.equal(answer.recovered, true);
      const replayed = () => late.frames.filter((f) => f.type === "event");
      await until(() => replayed().length >= 5, 15_000, "history to replay the last 5 regular messages");
      assert.deepEqual(replayed().map((f) => f.offset), Array.from({ length: 5 }, (_, k) => i - 3 + k));
      assert.ok(replayed().every((f) => f.data.json.pad !== "volatile" && typeof f.offset === "number"), "history holds no volatile message");
      assert.equal(answer.offset, i + 1, "volatile messages take no offset");
      await late.close();
    });

    it("ctx.broadcast takes { volatile: true }: no offset, never replayed", async () => {
      const other = await openRaw(server.url);
      other.send({ type: "subscribe", id: 2, topic: "ticks" });
      const subscribed = await other.next((f) => f.type === "subscribed");
      const before = subscribed.offset as number;
      fast.send({ type: "call", id: 9, method: "shout", input: { json: "volatile" } });
      await fast.next((f) => f.type === "result" && f.id === 9, 15_000);
      const event = await other.next((f) => f.type === "event" && f.data.json.pad === "volatile", 15_000);
      assert.equal(event.offset, undefined);
      const again = await openRaw(server.url);
      again.send({ type: "subscribe", id: 3, topic: "ticks", since: { epoch: subscribed.epoch, offset: before } });
      const answer = await again.next((f) => f.type === "subscribed", 15_000);
      assert.equal(answer.offset, before, "the position did not move");
      assert.equal(answer.recovered, true);
      assert.equal(again.frames.filter((f) => f.type === "event").length, 0, "nothing replayed");
      await again.close();
      await other.close();
    });
  });
}

volatileSuite("memory", () => Promise.resolve(undefined));

const skip = redisMissing();
let redis: RedisProcess | undefined;
volatileSuite("Redis", async () => {
  redis = await startRedis();
  return await createRedisBroker(redis.url);
}, skip);
after(async () => {
  await redis?.stop();
});
