/**
 * `bun bench/redis-fanout.ts`: fan-out throughput on Redis with 1, 2 and 4 Tether instances (`--instances`) (Bun).
 * One redis-server and N instance processes (tests/fixtures/redis-instance.ts) on 127.0.0.1;
 * subscribers are spread round-robin over the instances; one `burst` call publishes M messages on
 * instance 1, and the figure is the time until every subscriber holds all M.
 * Prints a markdown table and one JSON line per run. Flags: `--subs=N` (default 300),
 * `--messages=M` (default 2000), `--instances=1,2,4` (the instance counts, in order; default 1, 2
 * and 4), `--smoke` (30 subscribers, 200 messages, 1 and 2 instances). `--cluster`: on a 3-master
 * Redis Cluster (sharded pub/sub; instance i is given node i % 3) instead of one redis-server.
 * `--topics=K` (default 1): the subscribers spread over K topic instances, each published to
 * concurrently (every subscriber still gets M). The last column is what each Redis node sent during
 * the run (`total_net_output_bytes` of INFO stats): on a cluster, how the load spread over masters.
 * On one machine the instances, Redis and this load generator share the cores: compare the rows
 * with each other, not with a real cluster.
 * @module
 */
import { spawnSync } from "node:child_process";
import { type InstanceProcess, startInstance, startRedis } from "../tests/fixtures/redis.ts";
import { startRedisCluster } from "../tests/fixtures/redis-cluster.ts";

const flags = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=") as [string, string | undefined]));
const smoke = flags.has("smoke");
const subs = Number(flags.get("subs") ?? (smoke ? 30 : 300));
const messages = Number(flags.get("messages") ?? (smoke ? 200 : 2000));
const topics = Number(flags.get("topics") ?? 1);
const counts = (flags.get("instances") ?? (smoke ? "1,2" : "1,2,4")).split(",").map(Number);
const onCluster = flags.has("cluster");

/** A raw protocol socket that counts event frames without decoding them. */
async function subscriber(url: string, name: string): Promise<{ count: () => number; close: () => void }> {
  const ws = new WebSocket(url, "tether.v1");
  let events = 0;
  let subscribed: () => void = () => {};
  const ready = new Promise<void>((resolve) => (subscribed = resolve));
  ws.onmessage = (e) => {
    const text = String(e.data);
    if (text.startsWith('{"type":"event"')) events++;
    else if (text.includes('"type":"subscribed"')) subscribed();
  };
  await new Promise<void>((resolve, reject) => ((ws.onopen = () => resolve()), (ws.onerror = () => reject(new Error(`Cannot open ${url}`)))));
  ws.send(JSON.stringify({ type: "subscribe", id: "s", topic: "feed", params: { json: { name } } }));
  await ready;
  return { count: () => events, close: () => ws.close() };
}

/** Calls `burst` on an instance over a raw socket and waits for its result; rejects on an error frame. */
async function burst(url: string, name: string, count: number): Promise<void> {
  const ws = new WebSocket(url, "tether.v1");
  await new Promise<void>((resolve) => (ws.onopen = () => resolve()));
  const done = new Promise<void>((resolve, reject) => {
    ws.onmessage = (e) => {
      const text = String(e.data);
      if (text.includes('"type":"result"')) resolve();
      else if (text.includes('"type":"error"')) reject(new Error(`burst failed: ${text}`));
    };
  });
  ws.send(JSON.stringify({ type: "call", id: 1, method: "burst", input: { json: { name, count } } }));
  await done;
  ws.close();
}

/** Bytes each Redis node has sent since it started. */
const sentBytes = (ports: number[]) =>
  ports.map((port) => Number(/total_net_output_bytes:(\d+)/.exec(spawnSync("redis-cli", ["-p", String(port), "info", "stats"], { encoding: "utf8" }).stdout)?.[1] ?? NaN));

const redis = onCluster ? await startRedisCluster() : await startRedis();
const nodes = "urls" in redis ? redis.urls : [redis.url];
const ports = "ports" in redis ? redis.ports : [redis.port];
// A 10 s stallTimeout: a burst of thousands of publishes queued on one connection delays the
// watchdog's PING behind them, which on a loaded machine can pass the default 3 s and fail them.
const env = { STALL_TIMEOUT: "10000", ...(onCluster ? { REDIS_CLUSTER: "1" } : {}) };
let instances: InstanceProcess[] = [];
const rows: string[] = [];
try {
  for (const n of counts) {
    instances = await Promise.all(Array.from({ length: n }, (_, i) => startInstance("bun", nodes[i % nodes.length]!, env)));
    const name = `bench-${n}`;
    const clients = await Promise.all(Array.from({ length: subs }, (_, i) => subscriber(instances[i % n]!.url, `${name}-${i % topics}`)));
    const sentBefore = sentBytes(ports);
    const started = performance.now();
    await Promise.all(Array.from({ length: topics }, (_, t) => burst(instances[0]!.url, `${name}-${t}`, messages))).catch((error) => {
      for (const i of instances) console.error(`instance ${i.url} logged: ${JSON.stringify(i.logs)}`);
      throw error;
    });
    const deadline = Date.now() + 60_000;
    while (clients.some((c) => c.count() < messages) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const seconds = (performance.now() - started) / 1000;
    const delivered = clients.reduce((sum, c) => sum + c.count(), 0);
    const sentMb = sentBytes(ports).map((b, i) => Number(((b - sentBefore[i]!) / 1e6).toFixed(1)));
    const result = { redis: onCluster ? "cluster of 3" : "one node", topics, instances: n, subscribers: subs, messages, delivered, seconds: Number(seconds.toFixed(3)), deliveriesPerSecond: Math.round(delivered / seconds), redisSentMb: sentMb };
    console.log(JSON.stringify(result));
    rows.push(`| ${result.redis} | ${topics} | ${n} | ${subs} | ${messages} | ${delivered === subs * messages ? "all" : `${delivered} of ${subs * messages}`} | ${result.seconds} | ${result.deliveriesPerSecond.toLocaleString("en")} | ${sentMb.join(" / ")} |`);
    for (const c of clients) c.close();
    await Promise.all(instances.map((i) => i.kill()));
  }
} finally {
  await Promise.all(instances.map((i) => i.kill()));
  await redis.stop();
}
console.log(["", "| redis | topic instances | instances | subscribers | messages | delivered | seconds | deliveries/s | MB sent per Redis node |", "|---|---|---|---|---|---|---|---|---|", ...rows].join("\n"));
