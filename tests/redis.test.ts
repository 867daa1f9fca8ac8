import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type InstanceProcess, redisMissing, type RedisProcess, startInstance, startRedis } from "./fixtures/redis.ts";
import { RUNTIME, until } from "./fixtures/serve.ts";
import { runCutSubscriber } from "./fixtures/cut-subscriber.ts";
import { instanceClients } from "./fixtures/instance-clients.ts";

const skip = redisMissing();

describe(`three instances (deno, deno, bun) on one redis-server, tested from ${RUNTIME}`, { skip }, () => {
  let redis: RedisProcess;
  let instances: InstanceProcess[] = [];
  const { client, closeAll } = instanceClients();

  before(async () => {
    redis = await startRedis();
    instances = await Promise.all([
      startInstance("deno", redis.url),
      startInstance("deno", redis.url),
      startInstance("bun", redis.url),
    ]);
  });
  after(async () => {
    closeAll();
    await Promise.all(instances.map((i) => i.kill()));
    await redis?.stop();
  });

  it("a message published on one instance reaches subscribers on all three, in order", async () => {
    const seen = instances.map(() => [] as number[]);
    const subs = instances.map((inst, i) => client(inst.url).api.feed.subscribe({ name: "share" }, { onData: (m) => seen[i]!.push(m.n) }));
    await Promise.all(subs.map((s) => s.ready));
    const publisher = client(instances[2]!.url);
    for (let n = 1; n <= 20; n++) await publisher.api.emit({ name: "share", n });
    await until(() => seen.every((s) => s.length === 20), 5000, "20 messages on every instance");
    for (const s of seen) assert.deepEqual(s, Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it("a room-targeted publish reaches room members on every instance and nobody else", async () => {
    const got = instances.map(() => [] as string[]);
    const cs = instances.map((inst) => client(inst.url));
    const subs = cs.map((c, i) => c.api.notes.subscribe(undefined, { onData: (m) => got[i]!.push(m.text) }));
    await Promise.all(subs.map((s) => s.ready));
    await cs[0]!.api.join({ room: "blue" });
    await cs[2]!.api.join({ room: "blue" });
    await cs[1]!.api.toRoom({ room: "blue", text: "to blue" });
    await cs[1]!.api.toRoom({ room: "red", text: "to red" });
    await until(() => got[0]!.length === 1 && got[2]!.length === 1, 5000, "the room message on instances 1 and 3");
    // The red message was published after the blue one on the same Redis connection: it has arrived if it ever will.
    await cs[1]!.api.toRoom({ room: "blue", text: "marker" });
    await until(() => got[0]!.length === 2 && got[2]!.length === 2, 5000, "the marker on instances 1 and 3");
    assert.deepEqual(got, [["to blue", "marker"], [], ["to blue", "marker"]]);
  });

  it("a subscriber whose connection is cut again and again gets 1000 messages exactly once, in order", async () => {
    const { received, recoveries } = await runCutSubscriber(client, instances[0]!.url, instances[1]!.url, "cuts", 1000);
    assert.ok(recoveries.length >= 3 && recoveries.every((r) => r), `every resubscribe recovered: ${recoveries}`);
    assert.deepEqual(received, Array.from({ length: 1000 }, (_, i) => i + 1));
  });

  it("presence is shared: each instance's subscribers see members on all three, and leaves", async () => {
    const names = ["ana", "bo", "cy"];
    const subs = instances.map((inst, i) =>
      client(inst.url, { params: () => ({ name: names[i]! }) }).api.lobby.subscribe({ id: "one" }, {})
    );
    await Promise.all(subs.map((s) => s.ready));
    const members = (i: number) => Object.keys(subs[i]!.presence.members).sort().join(",");
    await until(() => subs.every((_, i) => members(i) === "ana,bo,cy"), 5000, "every subscriber to see all three members");
    // A late subscriber gets the full state at once in its snapshot.
    const late = client(instances[1]!.url, { params: () => ({ name: "dee" }) }).api.lobby.subscribe({ id: "one" }, {});
    await late.ready;
    await until(() => Object.keys(late.presence.members).sort().join(",") === "ana,bo,cy,dee", 5000, "the late subscriber's state");
    subs[2]!.unsubscribe();
    await until(() => members(0) === "ana,bo,dee" && members(1) === "ana,bo,dee", 5000, "cy's leave on the other instances");
    assert.equal(subs[0]!.presence.count, 3);
  });

  it("GET /healthz reports ok while Redis is reachable", async () => {
    for (const inst of instances) {
      const body = await (await fetch(`${inst.base}/healthz`)).json();
      assert.equal(body.status, "ok");
    }
  });
});
