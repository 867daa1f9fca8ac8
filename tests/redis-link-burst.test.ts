import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Client, createClient } from "../client/mod.ts";
import type { contract } from "./fixtures/redis-instance.ts";
import { type InstanceProcess, redisMissing, type RedisProcess, startInstance, startRedis } from "./fixtures/redis.ts";
import { type RedisClusterProcess, startRedisCluster } from "./fixtures/redis-cluster.ts";
import { RUNTIME } from "./fixtures/serve.ts";
import { startTcpProxy, type TcpProxy } from "./fixtures/tcp-proxy.ts";

type Contract = typeof contract;
const skip = redisMissing();
/**
 * A small watchdog: the PING of the command connection waits longer than this behind a burst. Not
 * smaller: on a loaded 2-core machine a Redis server and an instance that both wait for a core left
 * an idle pub/sub connection's PING unanswered for 606 ms, a stall only by the clock.
 */
const STALL_TIMEOUT = 1500;
/** The burst drains for at least this many stall timeouts, so that PINGs sent early in it wait longer than one. */
const DRAIN_FACTOR = 3;
/** The most publishes in one burst: the sizing loop stops there. */
const MAX_BURST = 256_000;

/** What a test needs of a running instance. */
interface Setup {
  instance: InstanceProcess;
  /** Makes the instance's link truly stalled (nothing comes back, sockets stay open). */
  stall(): void;
  /** Lets it answer again. */
  unstall(): void;
}

/**
 * Sizes a burst from a baseline measured here (a small burst's time per publish), runs it, and
 * checks that the link never left "up" while every publish succeeded; then stalls the link for real
 * and checks that the watchdog still finds it.
 */
function burstSuite(title: string, setup: () => Promise<Setup>, teardown: () => Promise<void>) {
  describe(title, { skip }, () => {
    let s: Setup;
    const clients: Client<Contract>[] = [];
    const readyz = async () => (await fetch(`${s.instance.base}/readyz`)).status;
    const linkLines = () => s.instance.logs.filter((l) => l.level === "warn" && /^broker link is/.test(l.msg));

    before(async () => {
      s = await setup();
    });
    after(async () => {
      for (const c of clients) c.close();
      await s?.instance.kill();
      await teardown();
    });

    it("a burst that keeps the PING waiting longer than stallTimeout does not mark the link stalled, and every publish succeeds (false stall under load)", async () => {
      const c = createClient<Contract>(s.instance.url, { timeout: 120_000 });
      clients.push(c);
      const burst = async (count: number) => {
        const started = performance.now();
        // Rejects with INTERNAL when any one of the `count` publishes failed.
        await c.api.burst({ name: "load", count });
        return performance.now() - started;
      };
      await burst(200);
      const baseline = await burst(1000);
      let count = Math.min(MAX_BURST, Math.max(2000, Math.ceil((1000 * DRAIN_FACTOR * STALL_TIMEOUT) / Math.max(baseline, 1))));
      let drained = await burst(count);
      for (let round = 0; round < 4 && drained < DRAIN_FACTOR * STALL_TIMEOUT && count < MAX_BURST; round++) {
        count = Math.min(MAX_BURST, count * 2);
        drained = await burst(count);
      }
      assert.ok(
        drained >= DRAIN_FACTOR * STALL_TIMEOUT,
        `a burst of ${count} publishes drained in ${drained.toFixed(0)} ms, under ${DRAIN_FACTOR} x stallTimeout: it proves nothing (1,000 took ${baseline.toFixed(0)} ms)`,
      );
      assert.deepEqual(linkLines(), [], `the link changed state during bursts of up to ${count} publishes (drained in ${drained.toFixed(0)} ms)`);
      assert.equal(await readyz(), 200);
    });

    it("a link on which nothing comes back is still found stalled, and comes back", async () => {
      const before = linkLines().length;
      const started = performance.now();
      s.stall();
      const deadline = Date.now() + 20_000;
      while ((await readyz()) !== 503) {
        if (Date.now() > deadline) assert.fail(`the stalled link was not found within 20 s; logs: ${JSON.stringify(s.instance.logs)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      const found = performance.now() - started;
      assert.ok(linkLines().slice(before).some((l) => /^broker link is stalled/.test(l.msg)), JSON.stringify(s.instance.logs));
      s.unstall();
      const back = Date.now() + 20_000;
      while ((await readyz()) !== 200) {
        if (Date.now() > back) assert.fail(`the link did not come back within 20 s (stalled after ${found.toFixed(0)} ms)`);
        await new Promise((r) => setTimeout(r, 50));
      }
    });
  });
}

let redis: RedisProcess | undefined;
let proxy: TcpProxy | undefined;
burstSuite(`Redis link under a burst, one Redis node behind a TCP proxy (${RUNTIME} instance)`, async () => {
  redis = await startRedis();
  const p = (proxy = await startTcpProxy(redis.port));
  const instance = await startInstance(RUNTIME, `redis://127.0.0.1:${p.port}`, { STALL_TIMEOUT: String(STALL_TIMEOUT) });
  return { instance, stall: () => p.silence(), unstall: () => p.resume() };
}, async () => {
  await proxy?.close();
  await redis?.stop();
});

let cluster: RedisClusterProcess | undefined;
burstSuite(`Redis link under a burst, a 3-master Redis Cluster (${RUNTIME} instance)`, async () => {
  const c = (cluster = await startRedisCluster());
  const instance = await startInstance(RUNTIME, c.urls[0]!, { REDIS_CLUSTER: "1", STALL_TIMEOUT: String(STALL_TIMEOUT) });
  // Every master is watched: freezing one stalls the link.
  return { instance, stall: () => c.pause(c.ports[2]!), unstall: () => c.resume(c.ports[2]!) };
}, async () => {
  await cluster?.stop();
});
