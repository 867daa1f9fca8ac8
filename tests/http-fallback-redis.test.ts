import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Client, createClient } from "../client/mod.ts";
import { httpFallback } from "../client/http.ts";
import type { contract } from "./fixtures/redis-instance.ts";
import { type InstanceProcess, redisMissing, type RedisProcess, startInstance, startRedis } from "./fixtures/redis.ts";
import { type HttpProxy, startHttpProxy } from "./fixtures/http-proxy.ts";
import { RUNTIME, until } from "./fixtures/serve.ts";

type Contract = typeof contract;
const skip = redisMissing();

describe(`HTTP fallback without sticky sessions: a Deno and a Bun instance behind a round-robin proxy, tested from ${RUNTIME}`, { skip }, () => {
  let redis: RedisProcess;
  let instances: InstanceProcess[] = [];
  let proxy: HttpProxy;
  const clients: Client<Contract>[] = [];
  const connect = (name: string) => {
    const fallback = httpFallback();
    const url = `${proxy.via(instances[0]!.url)}?name=${name}`;
    const client = createClient<Contract>(url, { WebSocket: fallback.WebSocket, reconnect: { min: 20, max: 200 } });
    clients.push(client);
    return { client, fallback };
  };

  before(async () => {
    redis = await startRedis();
    instances = await Promise.all([startInstance("deno", redis.url), startInstance("bun", redis.url)]);
    proxy = await startHttpProxy(instances.map((i) => Number(new URL(i.base).port)));
  });
  after(async () => {
    for (const c of clients) c.close();
    await proxy?.close();
    await Promise.all(instances.map((i) => i.kill()));
    await redis?.stop();
  });

  it("calls, publishes and subscriptions work when each request lands on the next instance; nothing is lost", async () => {
    const reader = connect("reader");
    const writer = connect("writer");
    await Promise.all([reader.client.ready(), writer.client.ready()]);
    assert.equal(reader.fallback.transport, "http");
    assert.equal(writer.fallback.transport, "http");
    const got: number[] = [];
    const sub = reader.client.api.feed.subscribe({ name: "rr" }, { onData: (m) => got.push(m.n) });
    await sub.ready;
    const before = [...proxy.counts];
    for (let n = 1; n <= 50; n++) await writer.client.api.emit({ name: "rr", n });
    await writer.client.api.burst({ name: "rr", count: 150 });
    const results = await Promise.all(Array.from({ length: 20 }, () => writer.client.api.slowBump({ ms: 1 })));
    assert.equal(results.length, 20);
    await until(() => got.length >= 200, 10_000, "200 messages");
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(got, [...Array.from({ length: 50 }, (_, i) => i + 1), ...Array.from({ length: 150 }, (_, i) => i + 1)]);
    const spread = proxy.counts.map((c, i) => c - before[i]!);
    assert.ok(spread.every((c) => c > 10), `POSTs reached both instances: ${spread}`);
  });

  it("presence across instances works over HTTP sessions held by either instance", async () => {
    const a = connect("ann");
    const b = connect("bob");
    const sa = a.client.api.lobby.subscribe({ id: "rr" });
    const sb = b.client.api.lobby.subscribe({ id: "rr" });
    await Promise.all([sa.ready, sb.ready]);
    await until(() => sa.presence.count === 2 && sb.presence.count === 2, 10_000, "both members seen by both");
    assert.deepEqual(Object.keys(sa.presence.members).sort(), ["ann", "bob"]);
  });

  it("a POST for a session of an instance that is gone gets 404, and a malformed one 400", async () => {
    const gone = `${crypto.randomUUID()}.${"A".repeat(43)}`;
    const post = (token: string) =>
      fetch(`${instances[0]!.base}/ws/http`, { method: "POST", body: '{"type":"ping"}', headers: { "content-type": "application/json", "tether-session": token, "tether-seq": "0" } });
    const answer = await post(gone);
    assert.equal(answer.status, 404);
    assert.deepEqual(await answer.json(), { error: "Unknown session: open a new one" });
    assert.equal((await post("not-a-token")).status, 400);
  });
});
