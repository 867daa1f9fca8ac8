import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createClient, RpcError } from "../client/mod.ts";
import { createService, defineContract, procedure, type RunningServer } from "../server/mod.ts";
import { openRaw } from "./fixtures/raw-socket.ts";
import { connectTcp } from "./fixtures/tcp-client.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";

const contract = defineContract({
  math: {
    add: procedure({ input: v.object({ a: v.number(), b: v.number() }), output: v.number() }),
  },
  admin: { users: { kick: procedure({ input: v.object({ user: v.string() }), output: v.object({ kicked: v.string() }) }) } },
  echo: procedure({ input: v.unknown(), output: v.unknown() }),
  sleep: procedure({ input: v.object({ ms: v.number(), label: v.string() }), output: v.string() }),
  refuse: procedure({ output: v.string() }),
  crash: procedure({ output: v.string() }),
  broken: procedure({ output: v.number() }),
});

/** Labels of sleep calls whose AbortSignal fired, in order. */
const aborted: string[] = [];
/** Labels of sleep calls whose handler started, in order. */
const started: string[] = [];

function handlers() {
  return {
    math: { add: ({ a, b }: { a: number; b: number }) => a + b },
    admin: { users: { kick: ({ user }: { user: string }) => ({ kicked: user }) } },
    echo: (x: unknown) => x,
    sleep: ({ ms, label }: { ms: number; label: string }, ctx: { signal: AbortSignal }) =>
      new Promise<string>((resolve, reject) => {
        started.push(label);
        const t = setTimeout(() => resolve(label), ms);
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(t);
          aborted.push(label);
          reject(ctx.signal.reason);
        });
      }),
    refuse: () => {
      throw new RpcError("CONFLICT", "Name already taken", { suggestion: "ada2", at: new Date(0) });
    },
    crash: () => {
      throw new Error("secret database password in this message");
    },
    broken: () => "not a number" as unknown as number,
  };
}

describe(`RPC over a real ${RUNTIME} server`, () => {
  let server: RunningServer;
  let devServer: RunningServer;
  before(async () => {
    server = await serve(createService(contract, handlers(), { callTimeout: 2000, limits: { maxInFlight: 4 } }));
    devServer = await serve(createService(contract, handlers(), { dev: true }));
  });
  after(async () => {
    await server.stop();
    await devServer.stop();
  });

  const withClient = async (fn: (api: ReturnType<typeof createClient<typeof contract>>["api"]) => Promise<void>, url = server.url) => {
    const client = createClient<typeof contract>(url, { reconnect: false });
    try {
      await fn(client.api);
    } finally {
      client.close();
    }
  };

  it("call() resolves with the typed output, through nested namespaces", () =>
    withClient(async (api) => {
      assert.equal(await api.math.add({ a: 2, b: 3 }), 5);
      assert.deepEqual(await api.admin.users.kick({ user: "mallory" }), { kicked: "mallory" });
    }));

  it("Date, Map, Set, BigInt and undefined survive a round trip through a handler", () =>
    withClient(async (api) => {
      const value = { at: new Date(1234), m: new Map([["k", new Set([1n, 2n])]]), u: undefined, n: [new Date(0), 7n] };
      assert.deepEqual(await api.echo(value), value);
    }));

  it("rejects bad input with INVALID_INPUT and valibot issue paths, before the handler runs", () =>
    withClient(async (api) => {
      // @ts-expect-error b must be a number
      const err = await api.math.add({ a: 1, b: "x" }).catch((e: unknown) => e);
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, "INVALID_INPUT");
      assert.deepEqual((err.data as { issues: { path: unknown[] }[] }).issues.map((i) => i.path), [["b"]]);
    }));

  it(".safe returns a result union instead of throwing", () =>
    withClient(async (api) => {
      assert.deepEqual(await api.math.add.safe({ a: 1, b: 1 }), { ok: true, data: 2 });
      const bad = await api.refuse.safe();
      assert.equal(bad.ok, false);
      if (!bad.ok) assert.equal(bad.error.code, "CONFLICT");
    }));

  it("a thrown RpcError reaches the client with its code, message and data", () =>
    withClient(async (api) => {
      const err = await api.refuse().catch((e: unknown) => e);
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, "CONFLICT");
      assert.equal(err.message, "Name already taken");
      assert.deepEqual(err.data, { suggestion: "ada2", at: new Date(0) });
    }));

  it("any other throw becomes INTERNAL without its message or stack", () =>
    withClient(async (api) => {
      const err = await api.crash().catch((e: unknown) => e);
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, "INTERNAL");
      assert.equal(err.message, "Internal server error");
      assert.doesNotMatch(JSON.stringify(err.data ?? null), /password|at /);
    }));

  it("dev mode shows the message and stack of an unexpected throw", () =>
    withClient(async (api) => {
      const err = await api.crash().catch((e: unknown) => e);
      assert.ok(err instanceof RpcError);
      assert.match(err.message, /secret database password/);
      assert.match(String((err.data as { stack?: string }).stack), /crash|Error/);
    }, devServer.url));

  it("an output that breaks the contract is INTERNAL, not sent", () =>
    withClient(async (api) => {
      const err = await api.broken().catch((e: unknown) => e);
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, "INTERNAL");
    }));

  it("handlers run concurrently and answers come back out of order", () =>
    withClient(async (api) => {
      const order: string[] = [];
      await Promise.all([
        // 1 s against 10 ms: the order holds even when a busy machine reads the two calls far apart.
        api.sleep({ ms: 1000, label: "slow" }).then((l) => order.push(l)),
        api.sleep({ ms: 10, label: "fast" }).then((l) => order.push(l)),
      ]);
      assert.deepEqual(order, ["fast", "slow"]);
    }));

  it("the server's call timeout answers TIMEOUT and aborts the handler", () =>
    withClient(async (api) => {
      const err = await api.sleep({ ms: 5_000, label: "too-slow" }).catch((e: unknown) => e);
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, "TIMEOUT");
      await until(() => aborted.includes("too-slow"), 2000, "handler abort");
    }));

  it("the client's per-call timeout rejects with TIMEOUT", () =>
    withClient(async (api) => {
      const err = await api.sleep({ ms: 250, label: "client-timeout" }, { timeout: 30 }).catch((e: unknown) => e);
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, "TIMEOUT");
    }));

  it("aborting the caller's AbortSignal cancels the call and aborts the handler's signal", () =>
    withClient(async (api) => {
      const ac = new AbortController();
      // Longer than the call timeout: only the cancel (or, 2 s later, the timeout) can end this handler, never its own timer.
      const call = api.sleep({ ms: 5000, label: "cancel-me" }, { signal: ac.signal }).catch((e: unknown) => e);
      // Abort once the handler runs (a loaded machine may still be connecting after 20 ms: then no cancel frame is sent).
      await until(() => started.includes("cancel-me"), 5000, "the handler to start");
      ac.abort();
      const err = await call;
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, "CANCELLED");
      await until(() => aborted.includes("cancel-me"), 2000, "handler abort");
    }));

  it("raw: a cancel frame aborts the handler and answers CANCELLED", async () => {
    const raw = await openRaw(server.url);
    try {
      raw.send({ type: "call", id: 41, method: "sleep", input: { json: { ms: 5000, label: "raw-cancel" } } });
      raw.send({ type: "cancel", id: 41 });
      const answer = await raw.next((f) => f.id === 41);
      assert.equal(answer.code, "CANCELLED");
      await until(() => aborted.includes("raw-cancel"), 2000, "handler abort");
    } finally {
      await raw.close();
    }
  });

  it("raw: malformed JSON, a frame off the schema, an unknown method and a duplicate id each get a typed error; the connection stays open", async () => {
    const raw = await openRaw(server.url);
    try {
      raw.send("{not json");
      assert.deepEqual(await raw.next(), { type: "error", id: null, code: "PARSE_ERROR", message: "Frame is not valid JSON" });
      raw.send({ type: "call", id: 1 });
      const schema = await raw.next();
      assert.equal(schema.code, "BAD_REQUEST");
      assert.equal(schema.id, 1);
      assert.ok(schema.issues.some((i: { path: string[] }) => i.path.join(".") === "method"));
      raw.send({ type: "explode", id: 2 });
      assert.equal((await raw.next()).code, "BAD_REQUEST");
      raw.send({ type: "call", id: 3, method: "no.such.thing" });
      assert.deepEqual(await raw.next(), { type: "error", id: 3, code: "NOT_FOUND", message: 'Unknown procedure "no.such.thing"' });
      // 1 s: the duplicate must arrive while the first call still runs, on a busy machine too.
      raw.send({ type: "call", id: 4, method: "sleep", input: { json: { ms: 1000, label: "dup" } } });
      raw.send({ type: "call", id: 4, method: "math.add", input: { json: { a: 1, b: 1 } } });
      const dup = await raw.next((f) => f.id === 4);
      assert.equal(dup.code, "DUPLICATE_ID");
      assert.equal((await raw.next((f) => f.id === 4)).output.json, "dup");
      raw.send({ type: "call", id: 5, method: "math.add", input: { json: { a: 20, b: 22 } } });
      assert.deepEqual(await raw.next((f) => f.id === 5), { type: "result", id: 5, output: { json: 42 } });
    } finally {
      await raw.close();
    }
  });

  it("raw: calls over the in-flight limit get TOO_MANY_REQUESTS while the others finish", async () => {
    const tcp = await connectTcp(server.url);
    try {
      const answer = async (id: number | undefined) => {
        const frame = await tcp.next((f) => f.kind === "text" && JSON.parse(f.text).id === id);
        return JSON.parse((frame as { text: string }).text);
      };
      // The hello frame is the one without an id.
      assert.equal((await answer(undefined)).limits.maxInFlight, 4);
      // One TCP write: the server reads the five calls together, so none of the first four can end before the fifth arrives.
      tcp.sendAll(Array.from({ length: 5 }, (_, i) => ({ type: "call", id: i + 1, method: "sleep", input: { json: { ms: 80, label: `f${i + 1}` } } })));
      assert.equal((await answer(5)).code, "TOO_MANY_REQUESTS");
      for (let id = 1; id <= 4; id++) assert.equal((await answer(id)).output.json, `f${id}`);
    } finally {
      tcp.destroy();
    }
  });

  it("raw: the hello frame announces version, connection id, heartbeat and limits", async () => {
    const raw = await openRaw(server.url);
    try {
      assert.equal(raw.hello.version, 1);
      assert.equal(typeof raw.hello.connectionId, "string");
      assert.deepEqual(raw.hello.heartbeat, { interval: 25000, timeout: 45000 });
      assert.equal(raw.hello.limits.maxFrameBytes, 1048576);
    } finally {
      await raw.close();
    }
  });
  it("a handler that closes its own connection before it awaits sees its signal aborted with DISCONNECTED, not at its timeout", async () => {
    let reason: unknown;
    const leaving = createService(defineContract({ leave: procedure({ output: v.string() }) }), {
      leave: (_input, ctx) => {
        leaving.disconnect(ctx.connectionId);
        return new Promise<string>((_resolve, reject) => ctx.signal.addEventListener("abort", () => reject((reason = ctx.signal.reason))));
      },
    }, { callTimeout: 60_000 });
    const own = await serve(leaving);
    try {
      const raw = await openRaw(own.url);
      raw.send({ type: "call", id: 1, method: "leave" });
      await raw.closed;
      await until(() => reason !== undefined, 5000, "the handler's signal to abort");
      assert.ok(reason instanceof RpcError);
      assert.equal(reason.code, "DISCONNECTED");
      await until(() => leaving.stats().inflight === 0, 5000, "the call to be released");
    } finally {
      await own.stop();
    }
  });
});
