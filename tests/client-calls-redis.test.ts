/**
 * Server-to-client calls across instances on a real redis-server: a Deno and a Bun instance, the
 * call made on the instance that does not hold the connection (`service.client(id)` there), the
 * answer routed back; declared errors, timeout, cancel and disconnect cross the broker too.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Client, createClient, RpcError } from "../client/mod.ts";
import type { contract } from "./fixtures/redis-instance.ts";
import { type InstanceProcess, redisMissing, type RedisProcess, startInstance, startRedis } from "./fixtures/redis.ts";
import { RUNTIME, until } from "./fixtures/serve.ts";

type Contract = typeof contract;
const skip = redisMissing();

/** The RpcError a call rejects with (fails the test when it resolves). */
const failure = (p: Promise<unknown>): Promise<RpcError> => p.then(() => assert.fail("expected a rejection"), (e) => e as RpcError);

describe(`server-to-client calls across a Deno and a Bun instance on one redis-server, from ${RUNTIME}`, { skip }, () => {
  let redis: RedisProcess;
  let deno: InstanceProcess;
  let bun: InstanceProcess;
  const clients: Client<Contract>[] = [];
  /** Questions each client's implementation is still waiting on, and the abort reasons they saw. */
  const aborted: string[] = [];
  let hanging = 0;

  /** A client of one instance, named `by`; "hang" waits for its signal, "no" declines. */
  const connect = async (instance: InstanceProcess, by: string) => {
    const client = createClient<Contract>(instance.url, {
      reconnect: false,
      implement: {
        confirm: ({ question }, { signal }) => {
          if (question === "no") throw new RpcError("DECLINED", "Declined", { reason: `${by} is busy` });
          if (question !== "hang") return { ok: question.endsWith("?"), by };
          hanging++;
          return new Promise((resolve) => signal.addEventListener("abort", () => (aborted.push(by), resolve({ ok: false, by }))));
        },
      },
    });
    clients.push(client);
    await client.ready();
    return client;
  };

  before(async () => {
    redis = await startRedis();
    [deno, bun] = await Promise.all([startInstance("deno", redis.url), startInstance("bun", redis.url)]);
  });
  after(async () => {
    for (const c of clients) c.close();
    await Promise.all([deno?.kill(), bun?.kill()]);
    await redis?.stop();
  });

  it("a call made on the Bun instance reaches a client of the Deno instance and back, and the other way round", async () => {
    const onDeno = await connect(deno, "on-deno");
    const onBun = await connect(bun, "on-bun");
    // askClient runs service.client(connection).confirm on the instance the caller is connected to.
    assert.deepEqual(await onBun.api.askClient({ connection: onDeno.connectionId!, question: "from bun?" }), { ok: true, by: "on-deno" });
    assert.deepEqual(await onDeno.api.askClient({ connection: onBun.connectionId!, question: "from deno" }), { ok: false, by: "on-bun" });
  });

  it("a declared error crosses the broker typed; a connection open nowhere is DISCONNECTED at once", async () => {
    const onDeno = await connect(deno, "d2");
    const onBun = await connect(bun, "b2");
    const declined = await onBun.api.askClient.safe({ connection: onDeno.connectionId!, question: "no" });
    if (declined.ok || declined.error.code !== "DECLINED") return assert.fail("expected DECLINED");
    assert.deepEqual(declined.error.data, { reason: "d2 is busy" });
    // Without the other instances' "not here" it would wait for its timeout and fail with TIMEOUT.
    const nowhere = await failure(onBun.api.askClient({ connection: "no-such-connection", question: "q?", timeout: 20_000 }));
    assert.equal(nowhere.code, "DISCONNECTED");
  });

  it("the call's timeout cancels the implementation on the other instance's client", async () => {
    const onDeno = await connect(deno, "d3");
    const onBun = await connect(bun, "b3");
    const e = await failure(onBun.api.askClient({ connection: onDeno.connectionId!, question: "hang", timeout: 300 }));
    assert.equal(e.code, "TIMEOUT");
    await until(() => aborted.includes("d3"), 5000, "the Deno instance's client saw the cancel");
  });

  it("a client that disconnects mid-call rejects the other instance's call with DISCONNECTED, never a hang", async () => {
    const onDeno = await connect(deno, "d4");
    const onBun = await connect(bun, "b4");
    const before = hanging;
    const pending = failure(onBun.api.askClient({ connection: onDeno.connectionId!, question: "hang", timeout: 20_000 }));
    await until(() => hanging > before, 5000, "the call reached the client on the Deno instance");
    onDeno.close();
    // Answered by the disconnect (DISCONNECTED), not by the 20 s timeout (TIMEOUT).
    assert.equal((await pending).code, "DISCONNECTED");
  });

  it("the caller's cancel crosses the broker: the other instance's client sees its signal abort", async () => {
    const onDeno = await connect(deno, "d5");
    const onBun = await connect(bun, "b5");
    const before = hanging;
    const controller = new AbortController();
    const pending = failure(onBun.api.askClient({ connection: onDeno.connectionId!, question: "hang", timeout: 20_000 }, { signal: controller.signal }));
    await until(() => hanging > before, 5000, "the call reached the client on the Deno instance");
    controller.abort();
    assert.equal((await pending).code, "CANCELLED");
    await until(() => aborted.includes("d5"), 5000, "the cancel reached the client on the Deno instance");
  });
});
