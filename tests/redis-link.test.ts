import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Client, createClient } from "../client/mod.ts";
import { RpcError } from "../shared/errors.ts";
import type { contract } from "./fixtures/redis-instance.ts";
import { type InstanceProcess, redisMissing, type RedisProcess, startInstance, startRedis } from "./fixtures/redis.ts";
import { RUNTIME, until } from "./fixtures/serve.ts";
import { startTcpProxy, type TcpProxy } from "./fixtures/tcp-proxy.ts";

type Contract = typeof contract;
const skip = redisMissing();
/** Most calls one publisher makes: the loops stop on a flag, this only bounds them. */
const MAX_CALLS = 20_000;

/** One subscriber's view: what it got, and when it was told it may have missed messages. */
interface Watcher {
  name: string;
  got: Set<number>;
  duplicates: number;
  /** performance.now() of each `recovered: false`. */
  gaps: number[];
  /** Errors that ended the subscription (none expected: a resubscribe the broker could not take is retried). */
  errors: string[];
}

/** One publisher's record: every call with its send time and outcome. */
interface Sent {
  n: number;
  at: number;
  ok: boolean;
  error?: unknown;
}

describe(`Redis link failures (deno and bun instances behind TCP proxies), tested from ${RUNTIME}`, { skip }, () => {
  let redis: RedisProcess;
  const proxies: TcpProxy[] = [];
  let instances: InstanceProcess[] = [];
  const clients: Client<Contract>[] = [];
  const client = (url: string) => {
    const c = createClient<Contract>(url, { reconnect: { min: 20, max: 200 }, timeout: 20_000 });
    clients.push(c);
    return c;
  };
  const readyz = async (inst: InstanceProcess) => (await fetch(`${inst.base}/readyz`)).status;
  const untilReady = async (inst: InstanceProcess, status: number, ms: number, what: string) => {
    const deadline = Date.now() + ms;
    while ((await readyz(inst)) !== status) {
      if (Date.now() > deadline) assert.fail(`/readyz of the ${inst.runtime} instance did not answer ${status} within ${ms} ms (${what}); its logs: ${JSON.stringify(inst.logs)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    redis = await startRedis();
    proxies.push(await startTcpProxy(redis.port), await startTcpProxy(redis.port));
    const via = (p: TcpProxy) => `redis://127.0.0.1:${p.port}`;
    // A quick watchdog: a stall is noticed after 1.5 s. On a busy machine it may also take a slow
    // instance for a stalled one; the count below allows for that (an error or a gap signal, never silence).
    const env = { STALL_TIMEOUT: "1500" };
    // deno and bun each reach Redis through a proxy of the test's; a third instance reaches it directly.
    instances = await Promise.all([
      startInstance("deno", via(proxies[0]!), env),
      startInstance("bun", via(proxies[1]!), env),
      startInstance(RUNTIME, redis.url, env),
    ]);
  });
  after(async () => {
    for (const c of clients) c.close();
    await Promise.all(instances.map((i) => i.kill()));
    for (const p of proxies) await p.close();
    await redis?.stop();
  });

  it("every acknowledged publish reaches every subscriber or that subscriber hears of a gap; failed publishes answer an error; operators see each link change", async () => {
    const [cut, stalled] = instances as [InstanceProcess, InstanceProcess, InstanceProcess];
    const [cutProxy, stallProxy] = proxies as [TcpProxy, TcpProxy];

    const watchers: Watcher[] = instances.map((inst) => ({ name: `subscriber on ${inst.runtime} (${inst.url})`, got: new Set(), duplicates: 0, gaps: [], errors: [] }));
    const subs = instances.map((inst, i) =>
      client(inst.url).api.tape.subscribe(undefined, {
        onData: ({ n }) => watchers[i]!.got.has(n) ? watchers[i]!.duplicates++ : watchers[i]!.got.add(n),
        onSubscribed: ({ recovered }) => void (recovered || watchers[i]!.gaps.push(performance.now())),
        onError: (error) => void watchers[i]!.errors.push(error.message),
      })
    );
    await Promise.all(subs.map((s) => s.ready));

    // One publisher per instance, each call awaited; a short pause between calls keeps the rate sane.
    let stop = false;
    const sent: Sent[][] = instances.map(() => []);
    const publishers = instances.map(async (inst, i) => {
      const c = client(inst.url);
      for (let k = 1; k <= MAX_CALLS && !stop; k++) {
        const record: Sent = { n: (i + 1) * 1_000_000 + k, at: performance.now(), ok: false };
        sent[i]!.push(record);
        try {
          await c.api.record({ n: record.n });
          record.ok = true;
        } catch (error) {
          record.error = error;
        }
        await new Promise((r) => setTimeout(r, 4));
      }
    });
    const acked = (i: number) => sent[i]!.filter((s) => s.ok).length;
    await until(() => watchers.every((w) => w.got.size >= 30), 10_000, "30 messages at every subscriber before any failure");

    // 1. Cut the deno instance's link and refuse reconnects while the others publish more than history keeps (40).
    cutProxy.refuse();
    cutProxy.reset();
    await untilReady(cut, 503, 5000, "link cut");
    const ackedBefore = acked(2);
    await until(() => acked(2) >= ackedBefore + 100, 15_000, "100 publishes on the direct instance during the outage");
    await until(() => sent[0]!.some((s) => !s.ok), 5000, "a failed publish on the cut instance");
    cutProxy.resume();
    await untilReady(cut, 200, 10_000, "link back after the cut");

    // 2. Stall the bun instance's link: the sockets stay open and nothing comes back.
    stallProxy.silence();
    await untilReady(stalled, 503, 10_000, "link stalled");
    const ackedStalled = acked(2);
    await until(() => acked(2) >= ackedStalled + 60, 15_000, "60 publishes on the direct instance during the stall");
    stallProxy.resume();
    await untilReady(stalled, 200, 20_000, "link back after the stall");

    // 3. A short cut with reconnects allowed: history covers it.
    cutProxy.reset();
    await untilReady(cut, 200, 10_000, "link back after a short cut");
    const ackedEnd = acked(2);
    await until(() => acked(2) >= ackedEnd + 30, 10_000, "30 more publishes after the last failure");

    stop = true;
    await Promise.all(publishers);

    // Every acknowledged message: at every subscriber, or that subscriber was told of a gap after it was sent.
    const missing = (w: Watcher) =>
      sent.flat().filter((s) => s.ok && !w.got.has(s.n) && !w.gaps.some((g) => g > s.at)).map((s) => s.n);
    await until(() => watchers.every((w) => missing(w).length === 0), 15_000, "every acknowledged message at every subscriber or signalled")
      .catch(() => {});
    for (const w of watchers) {
      const lost = missing(w);
      assert.deepEqual(w.errors, [], `${w.name}: its subscription ended`);
      assert.deepEqual(lost.slice(0, 10), [], `${w.name} lost ${lost.length} acknowledged messages without a gap signal`);
      assert.equal(w.duplicates, 0, `${w.name} got duplicates`);
    }

    // Publishes the broker did not take answered a typed error, and only on the instances whose link failed.
    const failed = sent.map((list) => list.filter((s) => !s.ok));
    assert.ok(failed[0]!.length > 0 && failed[1]!.length > 0, `failed publishes: ${failed.map((f) => f.length)}`);
    for (const f of failed.flat()) {
      assert.ok(f.error instanceof RpcError && f.error.code === "INTERNAL", `a failed publish answered ${f.error}`);
      assert.match(f.error.message, /the broker is unavailable/);
    }
    // The subscribers behind the failed links missed more than history keeps: each heard of it.
    assert.ok(watchers[0]!.gaps.length > 0 && watchers[1]!.gaps.length > 0, `gap signals: ${watchers.map((w) => w.gaps.length)}`);

    // Operators: each change of link state once, the first failed publish of an outage, each reset.
    const messages = (inst: InstanceProcess) => inst.logs.filter((l) => l.level === "warn").map((l) => l.msg);
    const count = (inst: InstanceProcess, pattern: RegExp) => messages(inst).filter((m) => pattern.test(m)).length;
    assert.ok(count(cut, /^broker link is down/) >= 1, `cut instance logs: ${messages(cut)}`);
    assert.ok(count(cut, /^broker link is up again/) >= 2, `cut instance logs: ${messages(cut)}`);
    assert.ok(count(cut, /^broker stream reset/) >= 1, `cut instance logs: ${messages(cut)}`);
    assert.ok(count(cut, /^broker publish failed/) >= 1, `cut instance logs: ${messages(cut)}`);
    assert.ok(count(stalled, /^broker link is stalled/) >= 1, `stalled instance logs: ${messages(stalled)}`);
    // Not per message: hundreds of publishes failed, a handful of lines tell it.
    assert.ok(messages(cut).length <= 20, `cut instance wrote ${messages(cut).length} warn lines`);
    assert.ok(failed[0]!.length > messages(cut).length, "fewer lines than failed publishes");
  });
});
