import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { type Client, type ConnectionState, createClient } from "../client/mod.ts";
import type { ContractTree } from "../shared/contract.ts";
import { createRedisBroker } from "../server/broker/redis.ts";
import { ClusterTimeoutError, createService, defineContract, procedure, type RunningServer, type Service, topic } from "../server/mod.ts";
import type { contract as instanceContract } from "./fixtures/redis-instance.ts";
import { type InstanceProcess, redisMissing, type RedisProcess, startInstance, startRedis } from "./fixtures/redis.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";

const FAST = { reconnect: { min: 20, max: 200 } };

/** Records a client's states with the close codes that caused them. */
function watch(c: Client<ContractTree>) {
  const seen: { state: ConnectionState; code: number | undefined }[] = [];
  c.on("state", (state, change) => seen.push({ state, code: change.code }));
  return seen;
}

const local = defineContract({
  join: procedure({ input: v.object({ room: v.string() }) }),
  mine: procedure({ output: v.array(v.string()) }),
  lobby: topic({ message: v.string(), presence: v.object({ name: v.string() }) }),
});

describe(`service.cluster on the memory broker (one process) on ${RUNTIME}`, () => {
  let server: RunningServer;
  let service: Service<typeof local, { name: string }>;
  const clients: Client<typeof local>[] = [];
  const connect = async (name: string) => {
    const c = createClient<typeof local>(`${server.url}?name=${name}`, FAST);
    clients.push(c);
    await c.api.mine();
    return c;
  };

  before(async () => {
    service = createService<typeof local, { name: string }>(local, {
      join: ({ room }, ctx) => ctx.join(room),
      mine: (_, ctx) => [...ctx.rooms()].sort(),
      lobby: { presence: (_p, ctx) => ({ key: ctx.auth.name, meta: { name: ctx.auth.name } }) },
    }, { presenceWindow: 20, authenticate: (request) => ({ name: new URL(request.url).searchParams.get("name") ?? "anonymous" }) });
    server = await serve(service);
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.stop();
  });

  it("answers room members, a connection's rooms and the selected connections as the local queries do", async () => {
    const [a, b, c] = await Promise.all([connect("a"), connect("b"), connect("c")]);
    await a.api.join({ room: "m1" });
    await b.api.join({ room: "m1" });
    await b.api.join({ room: "m2" });
    assert.deepEqual((await service.cluster.roomMembers("m1")).sort(), service.roomMembers("m1").sort());
    assert.deepEqual((await service.cluster.roomMembers("m1")).sort(), [a.connectionId!, b.connectionId!].sort());
    assert.deepEqual((await service.cluster.roomsOf(b.connectionId!))?.sort(), ["m1", "m2"]);
    assert.equal(await service.cluster.roomsOf("no-such-connection"), undefined);
    const picked = await service.cluster.connections({ room: ["m1", "m2"], except: a.connectionId! });
    assert.deepEqual(picked, [{ id: b.connectionId!, rooms: ["m1", "m2"] }]);
    assert.ok((await service.cluster.connections()).some((x) => x.id === c.connectionId));
  });

  it("join and leave move the selected connections, and handlers see it", async () => {
    const [a, b] = await Promise.all([connect("ja"), connect("jb")]);
    await a.api.join({ room: "j1" });
    assert.equal(await service.cluster.join({ room: "j1" }, "j2"), 1);
    assert.equal(await service.cluster.join({ connection: b.connectionId! }, "j2"), 1);
    assert.deepEqual(await a.api.mine(), ["j1", "j2"]);
    assert.deepEqual(await b.api.mine(), ["j2"]);
    assert.equal(await service.cluster.leave({ room: "j2", except: b.connectionId! }, "j2"), 1);
    assert.deepEqual(await a.api.mine(), ["j1"]);
    assert.deepEqual(await service.cluster.roomMembers("j2"), [b.connectionId!]);
  });

  it("presence lists every member of a topic instance with its metadata", async () => {
    const [a, b] = await Promise.all([connect("pa"), connect("pb")]);
    await Promise.all([a.api.lobby.subscribe(undefined, {}).ready, b.api.lobby.subscribe(undefined, {}).ready]);
    assert.deepEqual(await service.cluster.presence("lobby", undefined), {
      pa: { [a.connectionId!]: { name: "pa" } },
      pb: { [b.connectionId!]: { name: "pb" } },
    });
  });

  it("disconnect closes the selected connections with the code given and refuses a code a server may not send", async () => {
    const [a, b, c] = await Promise.all([connect("da"), connect("db"), connect("dc")]);
    const seen = [a, b, c].map(watch);
    await a.api.join({ room: "d1" });
    await b.api.join({ room: "d1" });
    await assert.rejects(service.cluster.disconnect({ room: "d1" }, 1006), RangeError);
    assert.equal(await service.cluster.disconnect({ room: "d1" }, 4321, "room closed"), 2);
    await until(() => seen[0]!.some((s) => s.code === 4321) && seen[1]!.some((s) => s.code === 4321), 5000, "both closed with 4321");
    assert.ok(!seen[2]!.some((s) => s.code !== undefined), "the third connection was not closed");
    assert.deepEqual(await c.api.mine(), [], "the third connection still serves");
    assert.deepEqual(await service.cluster.roomMembers("d1"), []);
  });
});

type Remote = typeof instanceContract;
const skip = redisMissing();

describe(`service.cluster across three instances (deno, deno, bun) on one redis-server, from ${RUNTIME}`, { skip }, () => {
  let redis: RedisProcess;
  let instances: InstanceProcess[] = [];
  // A fourth instance in this process, with no connections of its own: it asks the others.
  let observer: Service<Record<never, never>>;
  const clients: Client<Remote>[] = [];
  const connect = async (i: number, name: string) => {
    const c = createClient<Remote>(`${instances[i]!.url}?name=${name}`, FAST);
    clients.push(c);
    await c.api.mine();
    return c;
  };

  before(async () => {
    redis = await startRedis();
    instances = await Promise.all([startInstance("deno", redis.url), startInstance("deno", redis.url), startInstance("bun", redis.url)]);
    observer = createService(defineContract({}), {}, { broker: await createRedisBroker(redis.url, { instanceTtl: 1500 }) });
  });
  after(async () => {
    for (const c of clients) c.close();
    await observer?.close();
    await Promise.all(instances.map((i) => i.kill()));
    await redis?.stop();
  });

  it("room members and a connection's rooms come from every instance, also when asked by an instance", async () => {
    const cs = await Promise.all([connect(0, "r0"), connect(1, "r1"), connect(2, "r2")]);
    await cs[0]!.api.join({ room: "blue" });
    await cs[2]!.api.join({ room: "blue" });
    await cs[2]!.api.join({ room: "green" });
    const blue = [cs[0]!.connectionId!, cs[2]!.connectionId!].sort();
    assert.deepEqual((await observer.cluster.roomMembers("blue")).sort(), blue);
    assert.deepEqual((await cs[1]!.api.clusterMembers({ room: "blue" })).sort(), blue, "asked by the second (deno) instance");
    assert.deepEqual((await cs[2]!.api.clusterMembers({ room: "blue" })).sort(), blue, "asked by the bun instance");
    assert.deepEqual((await observer.cluster.roomsOf(cs[2]!.connectionId!))?.sort(), ["blue", "green"]);
    assert.equal(await observer.cluster.roomsOf("nobody"), undefined);
  });

  it("join and leave reach connections on every instance", async () => {
    const cs = await Promise.all([connect(0, "j0"), connect(1, "j1"), connect(2, "j2")]);
    assert.equal(await observer.cluster.join({ except: cs[1]!.connectionId!, connection: cs[2]!.connectionId! }, "gold"), 1);
    assert.equal(await observer.cluster.join({ connection: cs[0]!.connectionId! }, "gold"), 1);
    assert.deepEqual(await cs[0]!.api.mine(), ["gold"]);
    assert.deepEqual(await cs[1]!.api.mine(), []);
    assert.deepEqual(await cs[2]!.api.mine(), ["gold"]);
    assert.equal(await observer.cluster.join({ room: "gold" }, "silver"), 2);
    assert.equal(await observer.cluster.leave({ room: "silver" }, "gold"), 2);
    assert.deepEqual(await cs[2]!.api.mine(), ["silver"]);
    assert.deepEqual(await observer.cluster.roomMembers("gold"), []);
  });

  it("presence of a topic instance lists the members of every instance", async () => {
    const names = ["ana", "bo", "cy"];
    const cs = await Promise.all(names.map((name, i) => connect(i, name)));
    await Promise.all(cs.map((c) => c.api.lobby.subscribe({ id: "cluster" }, {}).ready));
    const state = await observer.cluster.presence("lobby", { id: "cluster" });
    assert.deepEqual(state, Object.fromEntries(names.map((name, i) => [name, { [cs[i]!.connectionId!]: { name } }])));
  });

  it("disconnect closes the selected connections on every instance with the code given", async () => {
    const cs = await Promise.all([connect(0, "d0"), connect(1, "d1"), connect(2, "d2")]);
    const seen = cs.map(watch);
    await cs[1]!.api.join({ room: "kick" });
    await cs[2]!.api.join({ room: "kick" });
    assert.equal(await observer.cluster.disconnect({ room: "kick" }, 1000, "bye"), 2);
    await until(() => seen[1]!.some((s) => s.state === "closed") && seen[2]!.some((s) => s.state === "closed"), 5000, "both closed");
    assert.deepEqual(seen[2]!.find((s) => s.state === "closed")?.code, 1000);
    assert.deepEqual(await cs[0]!.api.mine(), [], "the connection not selected still serves");
  });

  it("a request an instance receives but does not answer in time rejects with ClusterTimeoutError", async () => {
    const impatient = createService(defineContract({}), {}, { broker: await createRedisBroker(redis.url, { clusterTimeout: 500 }) });
    try {
      // Every instance answers the observer (whose bound is the default) before one is paused.
      assert.deepEqual(await observer.cluster.roomMembers("nobody-here"), []);
      instances[1]!.pause();
      const error = await impatient.cluster.roomMembers("nobody-here").then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof ClusterTimeoutError, `got ${String(error)}`);
      assert.ok(error.missing >= 1 && error.answered >= 1, `missing ${error.missing}, answered ${error.answered}`);
    } finally {
      instances[1]!.resume();
      await impatient.close();
    }
    assert.deepEqual(await observer.cluster.roomMembers("nobody-here"), [], "every instance answers again");
  });
});
