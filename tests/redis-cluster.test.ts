import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { RpcError } from "../client/mod.ts";
import { httpFallback } from "../client/http.ts";
import { type InstanceProcess, redisMissing, startInstance } from "./fixtures/redis.ts";
import { type RedisClusterProcess, startRedisCluster } from "./fixtures/redis-cluster.ts";
import { type HttpProxy, startHttpProxy } from "./fixtures/http-proxy.ts";
import { RUNTIME, until } from "./fixtures/serve.ts";
import { runCutSubscriber } from "./fixtures/cut-subscriber.ts";
import { instanceClients } from "./fixtures/instance-clients.ts";
import { listeningUrl } from "./fixtures/listening-url.ts";

const skip = redisMissing();
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe(`a Deno and a Bun instance on a 3-master Redis Cluster (sharded pub/sub), tested from ${RUNTIME}`, { skip }, () => {
  let cluster: RedisClusterProcess;
  let instances: InstanceProcess[] = [];
  const { client, closeAll } = instanceClients();
  /** The sharded channels each master serves. */
  const shardChannels = async () =>
    await Promise.all(cluster.ports.map(async (port) => (await cluster.cli(port, "pubsub", "shardchannels")).split("\n").filter((l) => l !== "")));

  before(async () => {
    cluster = await startRedisCluster();
    // Each instance is given a different node: it discovers the rest. A stall is noticed after 2 s.
    const env = { REDIS_CLUSTER: "1", STALL_TIMEOUT: "2000" };
    instances = await Promise.all([startInstance("deno", cluster.urls[0]!, env), startInstance("bun", cluster.urls[1]!, env)]);
  });
  after(async () => {
    closeAll();
    await Promise.all(instances.map((i) => i.kill()));
    await cluster?.stop();
  });

  it("publishes from both instances on many topic instances reach every subscriber once, in order; channels and keys spread over the masters", async () => {
    const names = range(1, 12).map((i) => `spread-${i}`);
    const seen = instances.map(() => new Map(names.map((n) => [n, [] as number[]])));
    const subs = instances.flatMap((inst, i) => {
      const c = client(inst.url);
      return names.map((name) => c.api.feed.subscribe({ name }, { onData: (m) => seen[i]!.get(name)!.push(m.n) }));
    });
    await Promise.all(subs.map((s) => s.ready));
    // Pub/sub connections to masters opened just now for these subscriptions do not turn readiness off.
    for (const inst of instances) assert.equal((await fetch(`${inst.base}/readyz`)).status, 200, `${inst.runtime} ready`);
    // Half the topic instances published from the Deno instance, half from the Bun one, concurrently.
    const publishers = instances.map((inst) => client(inst.url));
    await Promise.all(names.map((name, i) => publishers[i % 2]!.api.burst({ name, count: 100 })));
    await until(() => seen.every((s) => [...s.values()].every((got) => got.length >= 100)), 15_000, "100 messages of every topic instance on both instances");
    for (const s of seen) for (const [name, got] of s) assert.deepEqual(got, range(1, 100), `${name} once, in order`);

    const channels = await shardChannels();
    const holding = channels.filter((list) => list.some((c) => c.startsWith("tether:p:{feed")));
    assert.ok(holding.length >= 2, `topic channels on more than one master: ${JSON.stringify(channels)}`);
    // A topic instance's channel, meta hash, history stream and presence hash share one slot.
    const channel = channels.flat().find((c) => c.startsWith("tether:p:{feed"))!;
    const slot = (name: string) => cluster.cli(cluster.ports[0]!, "cluster", "keyslot", name);
    const slots = await Promise.all(["p", "m", "h", "r"].map((kind) => slot(channel.replace("tether:p:", `tether:${kind}:`))));
    assert.equal(new Set(slots).size, 1, `one slot: ${slots}`);
  });

  it("a subscriber whose connection is cut again and again gets 500 messages exactly once, in order, recovered from history", async () => {
    const { received, recoveries } = await runCutSubscriber(client, instances[0]!.url, instances[1]!.url, "cuts", 500);
    assert.ok(recoveries.length >= 3 && recoveries.every((r) => r), `every resubscribe recovered: ${recoveries}`);
    assert.deepEqual(received, range(1, 500));
  });

  it("presence is shared across instances, leaves too; a cluster-wide query sees room members on both", async () => {
    const subs = instances.map((inst, i) => client(inst.url, { params: () => ({ name: ["ana", "bo"][i]! }) }).api.lobby.subscribe({ id: "one" }, {}));
    await Promise.all(subs.map((s) => s.ready));
    const members = (i: number) => Object.keys(subs[i]!.presence.members).sort().join(",");
    await until(() => members(0) === "ana,bo" && members(1) === "ana,bo", 5000, "both subscribers to see both members");
    subs[1]!.unsubscribe();
    await until(() => members(0) === "ana", 5000, "bo's leave on the Deno instance");

    const cs = instances.map((inst) => client(inst.url));
    await Promise.all(cs.map((c) => c.api.join({ room: "blue" })));
    const ids = cs.map((c) => c.connectionId!).sort();
    for (const c of cs) assert.deepEqual((await c.api.clusterMembers({ room: "blue" })).sort(), ids);
  });

  it("a server-to-client call made on one instance reaches a client of the other and back; a connection open nowhere is DISCONNECTED", async () => {
    const implemented = (by: string) => ({ implement: { confirm: ({ question }: { question: string }) => ({ ok: question.endsWith("?"), by }) } });
    const onDeno = client(instances[0]!.url, implemented("on-deno"));
    const onBun = client(instances[1]!.url, implemented("on-bun"));
    await Promise.all([onDeno.ready(), onBun.ready()]);
    assert.deepEqual(await onBun.api.askClient({ connection: onDeno.connectionId!, question: "from bun?" }), { ok: true, by: "on-deno" });
    assert.deepEqual(await onDeno.api.askClient({ connection: onBun.connectionId!, question: "from deno" }), { ok: false, by: "on-bun" });
    // Answered by the other instance's "not here" (it counted the instances from SPUBLISH), not by a timeout.
    const nowhere = await onBun.api.askClient({ connection: "no-such-connection", question: "q?", timeout: 20_000 }).then(
      () => assert.fail("expected a rejection"),
      (e: RpcError) => e,
    );
    assert.equal(nowhere.code, "DISCONNECTED");
  });

  it("a retry-safe call re-sent to the other instance gets the first run's result; the handler runs once", async () => {
    let target = instances[0]!.url;
    const sockets: WebSocket[] = [];
    const Tracked = class extends WebSocket {
      constructor(_url: string | URL, protocols?: string | string[]) {
        super(target, protocols);
        sockets.push(this);
      }
    };
    const caller = client(instances[0]!.url, { WebSocket: Tracked });
    const probes = instances.map((inst) => client(inst.url));
    const runsBefore = await Promise.all(probes.map((p) => p.api.runs()));
    const answer = caller.api.slowBump({ ms: 400 }, { retry: true });
    const deadline = Date.now() + 5000;
    while ((await probes[0]!.api.runs()) === runsBefore[0]) {
      if (Date.now() > deadline) throw new Error("The first run did not start within 5 s");
      await new Promise((r) => setTimeout(r, 20));
    }
    target = instances[1]!.url;
    sockets.at(-1)!.close();
    assert.match(await answer, /^run \d+ on instance /);
    assert.deepEqual(await Promise.all(probes.map((p) => p.api.runs())), [runsBefore[0]! + 1, runsBefore[1]], "the handler ran once");
    assert.equal(sockets.length, 2, "the call was re-sent on a second connection");
  });

  it("HTTP fallback sessions work when each POST lands on the other instance", async () => {
    let proxy: HttpProxy | undefined;
    try {
      proxy = await startHttpProxy(instances.map((i) => Number(new URL(i.base).port)));
      const fallback = httpFallback();
      const c = client(`${proxy.via(instances[0]!.url)}?name=http`, { WebSocket: fallback.WebSocket });
      await c.ready();
      assert.equal(fallback.transport, "http");
      const got: number[] = [];
      const sub = c.api.feed.subscribe({ name: "over-http" }, { onData: (m) => got.push(m.n) });
      await sub.ready;
      const before = [...proxy.counts];
      for (let n = 1; n <= 30; n++) await c.api.emit({ name: "over-http", n });
      await until(() => got.length >= 30, 10_000, "30 messages over HTTP");
      assert.deepEqual(got, range(1, 30));
      const spread = proxy.counts.map((n, i) => n - before[i]!);
      assert.ok(spread.every((n) => n > 5), `POSTs reached both instances: ${spread}`);
    } finally {
      await proxy?.close();
    }
  });

  it("a master that lost its data (new epoch) is a gap signal: the subscriber is told recovered: false, then gets what follows in order", async () => {
    const received: number[] = [];
    const recoveries: boolean[] = [];
    const sub = client(instances[0]!.url).api.tape.subscribe(undefined, {
      onData: (m) => received.push(m.n),
      onSubscribed: (info) => info.resubscribed && recoveries.push(info.recovered),
    });
    await sub.ready;
    const publisher = client(instances[1]!.url);
    for (let n = 1; n <= 10; n++) await publisher.api.record({ n });
    await until(() => received.length === 10, 5000, "the first 10 messages");
    const channels = await shardChannels();
    const owner = cluster.ports[channels.findIndex((list) => list.some((c) => c.startsWith("tether:p:{tape")))];
    assert.ok(owner !== undefined, `the channel's master among ${JSON.stringify(channels)}`);
    await cluster.cli(owner, "flushall");
    // The first publish after the flush starts a new epoch: the instance resets the channel.
    await publisher.api.record({ n: 11 });
    await until(() => recoveries.length === 1, 10_000, "the subscriber to resubscribe after the reset");
    for (let n = 12; n <= 15; n++) await publisher.api.record({ n });
    await until(() => received.at(-1) === 15, 5000, "the messages published after the resubscribe");
    assert.deepEqual(recoveries, [false]);
    // 11 went out while the subscriber was being sent back: it may or may not have reached it.
    assert.deepEqual(received.filter((n) => n !== 11), range(1, 15).filter((n) => n !== 11));
    assert.ok(received.filter((n) => n === 11).length <= 1, `11 at most once: ${received}`);
  });

  it("server.ts --redis-cluster <urls> runs on the cluster: ready, and listening on its own sharded channels", async () => {
    const replyChannels = async () => (await shardChannels()).flat().filter((c) => c.startsWith("tether:c:")).length;
    const before = await replyChannels();
    const runArgs = RUNTIME === "deno" ? ["run", "--allow-net", "--allow-env", "--allow-read", "server.ts"] : ["server.ts"];
    const child = spawn(process.execPath, [...runArgs, "--port", "0", "--redis-cluster", cluster.urls.join(",")], { stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      const url = await listeningUrl(child);
      const base = url.replace("ws://", "http://").replace(/\/ws$/, "");
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
      const deadline = Date.now() + 5000;
      while ((await replyChannels()) !== before + 1) {
        if (Date.now() > deadline) assert.fail(`server.ts's reply channel did not appear: ${JSON.stringify(await shardChannels())}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
  });

  it("a stalled master turns readiness off with a warn log on both instances; once it answers again, delivery goes on", async () => {
    const received: number[] = [];
    const sub = client(instances[0]!.url).api.feed.subscribe({ name: "stall" }, { onData: (m) => received.push(m.n) });
    await sub.ready;
    const publisher = client(instances[1]!.url);
    for (let n = 1; n <= 20; n++) await publisher.api.emit({ name: "stall", n });
    await until(() => received.length === 20, 5000, "the first 20 messages");
    const channels = await shardChannels();
    const owner = cluster.ports[channels.findIndex((list) => list.some((c) => c.startsWith("tether:p:{feed:") && c.includes("stall")))];
    assert.ok(owner !== undefined, `the channel's master among ${JSON.stringify(channels)}`);
    const readyz = async (inst: InstanceProcess) => (await fetch(`${inst.base}/readyz`)).status;
    const untilReady = async (status: number, what: string) => {
      const deadline = Date.now() + 15_000;
      for (const inst of instances) {
        while ((await readyz(inst)) !== status) {
          if (Date.now() > deadline) assert.fail(`/readyz of the ${inst.runtime} instance did not answer ${status} (${what}); its logs: ${JSON.stringify(inst.logs)}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    cluster.pause(owner);
    try {
      await untilReady(503, "the master is stalled");
    } finally {
      cluster.resume(owner);
    }
    await untilReady(200, "the master answers again");
    for (const inst of instances) {
      const warnings = inst.logs.filter((l) => l.level === "warn").map((l) => l.msg);
      assert.ok(warnings.some((m) => m.startsWith("broker link is stalled")), `${inst.runtime} logs: ${warnings}`);
      assert.ok(warnings.some((m) => m.startsWith("broker link is up again")), `${inst.runtime} logs: ${warnings}`);
    }
    for (let n = 21; n <= 40; n++) await publisher.api.emit({ name: "stall", n });
    await until(() => received.length >= 40, 10_000, "the messages published after the stall");
    assert.deepEqual(received, range(1, 40));
  });
});
