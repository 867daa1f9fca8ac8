import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createClient as createRedisClient } from "redis";
import type { BrokerMessage } from "../server/broker/broker.ts";
import { createRedisBroker, type RedisBroker } from "../server/broker/redis.ts";
import { redisMissing, type RedisProcess, startRedis } from "./fixtures/redis.ts";
import { RUNTIME, until } from "./fixtures/serve.ts";

const skip = redisMissing();
const message = (n: number): BrokerMessage => ({ topic: "t", key: "{}", data: { json: { n } } });
const numbers = (messages: BrokerMessage[]) => messages.map((m) => (m.data.json as { n: number }).n);

describe(`the Redis broker's offsets and history on ${RUNTIME}`, { skip }, () => {
  let redis: RedisProcess;
  let broker: RedisBroker;
  let admin: ReturnType<typeof createRedisClient>;
  before(async () => {
    redis = await startRedis();
    broker = await createRedisBroker(redis.url, { instanceTtl: 1000 });
    broker.start(() => {});
    admin = createRedisClient({ url: redis.url });
    admin.on("error", () => {});
    await admin.connect();
  });
  after(async () => {
    await broker?.close();
    await admin?.close();
    await redis?.stop();
  });

  it("offsets count up from 1 within an epoch and recovery replays exactly what was missed", async () => {
    const start = await broker.position("a");
    assert.equal(start.offset, 0);
    for (let n = 1; n <= 5; n++) await broker.publish("a", message(n), {});
    const recovery = await broker.recover("a", { epoch: start.epoch, offset: 2 });
    assert.equal(recovery.recovered, true);
    assert.deepEqual(recovery.position, { epoch: start.epoch, offset: 5 });
    assert.deepEqual(recovery.messages.map((m) => m.offset), [3, 4, 5]);
    assert.deepEqual(numbers(recovery.messages), [3, 4, 5]);
  });

  it("history keeps `size` messages: asking from further back is recovered: false", async () => {
    const { epoch } = await broker.position("b");
    for (let n = 1; n <= 5; n++) await broker.publish("b", message(n), { size: 3 });
    assert.equal((await broker.recover("b", { epoch, offset: 1 })).recovered, false);
    assert.deepEqual(numbers((await broker.recover("b", { epoch, offset: 2 })).messages), [3, 4, 5]);
  });

  it("history forgets messages older than `maxAge`", async () => {
    const { epoch } = await broker.position("c");
    // 500 ms: long enough that the first recover, a Redis round trip, lands inside it on a busy machine.
    await broker.publish("c", message(1), { maxAge: 500 });
    assert.equal((await broker.recover("c", { epoch, offset: 0 })).recovered, true);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal((await broker.recover("c", { epoch, offset: 0 })).recovered, false);
  });

  it("a topic with history: false keeps offsets but nothing to replay", async () => {
    const { epoch } = await broker.position("d");
    await broker.publish("d", message(1), false);
    const recovery = await broker.recover("d", { epoch, offset: 0 });
    assert.deepEqual([recovery.recovered, recovery.position.offset], [false, 1]);
  });

  it("when Redis loses its data the epoch changes and old positions are not recovered", async () => {
    const before = await broker.position("e");
    await broker.publish("e", message(1), {});
    await admin.flushAll();
    const recovery = await broker.recover("e", { epoch: before.epoch, offset: 1 });
    assert.equal(recovery.recovered, false);
    assert.notEqual(recovery.position.epoch, before.epoch);
  });

  it("a listening instance fills a pub/sub gap from history: killed pub/sub connections lose nothing", async () => {
    const got: number[] = [];
    const listener = await createRedisBroker(redis.url);
    try {
      listener.start((_channel, m) => got.push(m.offset!));
      await listener.listen("f");
      for (let n = 1; n <= 300; n++) {
        await broker.publish("f", message(n), { size: 1000 });
        if (n % 60 === 0) await admin.sendCommand(["CLIENT", "KILL", "TYPE", "pubsub"]);
      }
      await until(() => got.length >= 300, 10_000, "300 messages on the listening instance");
      assert.deepEqual(got, Array.from({ length: 300 }, (_, i) => i + 1));
      const { gapReads, resets } = listener.metrics();
      assert.ok(gapReads > 0, "the pub/sub connection was cut and the gap read from history");
      assert.equal(resets, 0);
    } finally {
      await listener.close();
    }
  });
});
