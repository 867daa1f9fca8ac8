/**
 * The Redis broker's client-call relay (server/broker/redis-client-calls.ts) on a real redis-server,
 * two brokers in one process: what the instance holding the connection answers when running the
 * call fails instead of giving the client's answer.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ClientAnswer } from "../server/broker/broker.ts";
import { createRedisBroker, type RedisBroker } from "../server/broker/redis.ts";
import { redisMissing, type RedisProcess, startRedis } from "./fixtures/redis.ts";
import { RUNTIME } from "./fixtures/serve.ts";

const skip = redisMissing();
/** The asker's wait beyond a call's timeout: short, so that a missing answer fails the test in seconds. */
const GRACE = 1000;

describe(`the client-call relay on one redis-server, on ${RUNTIME}`, { skip }, () => {
  let redis: RedisProcess;
  let holder: RedisBroker;
  let asker: RedisBroker;
  /** How the holder's run fails: a rejected promise, or a throw. */
  let failure: "reject" | "throw" = "reject";
  /** The signals the holder's runs were given. */
  const signals: AbortSignal[] = [];
  let holderClosed = false;

  before(async () => {
    redis = await startRedis();
    holder = await createRedisBroker(redis.url, { clusterTimeout: GRACE });
    asker = await createRedisBroker(redis.url, { clusterTimeout: GRACE });
    await holder.clientCalls!.listen((_call, signal) => {
      signals.push(signal);
      if (failure === "throw") throw new Error("run threw");
      return Promise.reject(new Error("run rejected"));
    });
    // The asker holds no connection: it answers "not here".
    await asker.clientCalls!.listen(() => undefined);
  });
  after(async () => {
    await asker?.close();
    if (!holderClosed) await holder?.close();
    await redis?.stop();
  });

  /** Asks for the holder's connection; the call's own timeout is 1 s. */
  const ask = (): Promise<ClientAnswer | undefined> =>
    asker.clientCalls!.call({ connection: "c1", method: "confirm", input: "{\"json\":null}", timeout: 1000 }, undefined);

  it("a run that rejects answers INTERNAL at once (no unhandled rejection, no wait for TIMEOUT)", async () => {
    failure = "reject";
    const answer = await ask();
    assert.deepEqual(answer, { ok: false, code: "INTERNAL", message: 'Client call "confirm" failed on the instance holding the connection' });
  });

  it("a run that throws answers INTERNAL at once too", async () => {
    failure = "throw";
    const answer = await ask();
    assert.equal(answer?.ok === false ? answer.code : answer, "INTERNAL");
  });

  it("a failed run is forgotten: closing the holder aborts none of their signals", async () => {
    signals.length = 0;
    failure = "reject";
    await ask();
    failure = "throw";
    await ask();
    assert.equal(signals.length, 2, "the holder ran the calls");
    await holder.close();
    holderClosed = true;
    assert.deepEqual(signals.map((s) => s.aborted), signals.map(() => false));
  });
});
