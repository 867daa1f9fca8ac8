import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { type Client, createClient, RpcError } from "../client/mod.ts";
import { createService, defineContract, procedure, type RunningServer, topic } from "../server/mod.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";

const contract = defineContract({
  echo: procedure({ input: v.string(), output: v.string() }),
  slow: procedure({ input: v.number(), output: v.string() }),
  whoami: procedure({ input: v.object({}), output: v.string() }),
  feed: topic({ message: v.string() }),
});

const isCode = (code: string) => (e: unknown) => e instanceof RpcError && e.code === code;

describe(`Calls, auth and lazy mode across reconnects on a real ${RUNTIME} server`, () => {
  let slowRuns = 0;
  let tokensSeen: string[] = [];
  const service = createService<typeof contract, string>(contract, {
    echo: (s) => s,
    slow: (ms, ctx) =>
      new Promise((resolve, reject) => {
        slowRuns++;
        const t = setTimeout(() => resolve(`slept ${ms}`), ms);
        ctx.signal.addEventListener("abort", () => (clearTimeout(t), reject(ctx.signal.reason)));
      }),
    whoami: (_, ctx) => ctx.auth,
  }, {
    authenticate: (request) => {
      const token = new URL(request.url).searchParams.get("token") ?? "anonymous";
      tokensSeen.push(token);
      if (token === "expired") throw new RpcError("UNAUTHORIZED", "Token expired");
      return token;
    },
    reauthenticate: (token) => {
      if (token === "bad") throw new RpcError("UNAUTHORIZED", "Token refused");
      return token;
    },
  });
  let server: RunningServer;
  before(async () => {
    server = await serve(service);
  });
  after(() => server.stop());

  const drop = (client: Client<typeof contract>) => {
    const conn = service.connections.get(client.connectionId ?? "");
    assert.ok(conn !== undefined, "the client has a connection");
    conn.close(1011, "test drop");
  };

  it("a call in flight rejects with DISCONNECTED; one marked retry is sent again and resolves", async () => {
    const client = createClient<typeof contract>(server.url, { reconnect: { min: 10, max: 20 } });
    try {
      await client.ready();
      slowRuns = 0;
      const unsafe = client.api.slow(2000).catch((e) => e);
      const safe = client.api.slow(200, { retry: true });
      await until(() => service.stats().inflight === 2, 2000, "both calls to run");
      drop(client);
      assert.ok(isCode("DISCONNECTED")(await unsafe), "the unsafe call fails with DISCONNECTED");
      assert.equal(await safe, "slept 200");
      assert.equal(slowRuns, 3, "the safe call ran again after the reconnect; the unsafe one did not");
    } finally {
      client.close();
    }
  });

  it("calls made while disconnected wait in a bounded queue, go out on reconnect, or time out", async () => {
    let hold: Promise<void> | undefined;
    let release = () => {};
    const client = createClient<typeof contract>(server.url, {
      reconnect: { min: 5, max: 5 },
      queueSize: 3,
      // Holding the params keeps the client disconnected for as long as the test needs.
      params: async () => (await hold, {}),
    });
    try {
      await client.ready();
      hold = new Promise((r) => (release = r));
      drop(client);
      await until(() => client.state === "reconnecting", 2000, "the drop");
      const first = client.api.echo("one");
      const second = client.api.echo("two");
      const late = client.api.echo("late", { timeout: 100 });
      await assert.rejects(client.api.echo("overflow"), (e) => isCode("DISCONNECTED")(e) && /queue is full/.test((e as Error).message));
      await assert.rejects(late, isCode("TIMEOUT"));
      assert.equal(client.state, "reconnecting");
      release();
      assert.deepEqual(await Promise.all([first, second]), ["one", "two"]);
    } finally {
      release();
      client.close();
    }
  });

  it("params run again before every reconnect, so the server sees a fresh token", async () => {
    let issued = 0;
    const client = createClient<typeof contract>(server.url, {
      reconnect: { min: 5, max: 10 },
      params: () => Promise.resolve({ token: `token-${++issued}` }),
    });
    try {
      assert.equal(await client.api.whoami({}), "token-1");
      let reconnected = false;
      client.on("reconnect", () => (reconnected = true));
      drop(client);
      await until(() => reconnected, 2000, "the reconnect");
      assert.equal(await client.api.whoami({}), "token-2");
    } finally {
      client.close();
    }
  });

  it("a refused token on reconnect goes through refreshAuth, then the next one from params is used", async () => {
    const tokens = ["good", "expired", "renewed"];
    tokensSeen = [];
    const client = createClient<typeof contract>(server.url, {
      reconnect: { min: 5, max: 10 },
      params: () => ({ token: tokens.shift() ?? "renewed" }),
      refreshAuth: (error) => error.code === "UNAUTHORIZED",
    });
    try {
      assert.equal(await client.api.whoami({}), "good");
      drop(client);
      await until(() => tokensSeen.includes("renewed"), 3000, "the renewed token");
      assert.equal(await client.api.whoami({}), "renewed");
      assert.deepEqual(tokensSeen.slice(0, 3), ["good", "expired", "renewed"]);
    } finally {
      client.close();
    }
  });

  it("authenticate() swaps credentials in-band: same socket, subscription kept", async () => {
    const client = createClient<typeof contract>(server.url, { params: () => ({ token: "old" }) });
    try {
      const got: string[] = [];
      const sub = client.api.feed.subscribe(undefined, { onData: (m) => got.push(m) });
      await sub.ready;
      const id = client.connectionId;
      await client.authenticate("new");
      assert.equal(await client.api.whoami({}), "new");
      await assert.rejects(client.authenticate("bad"), isCode("UNAUTHORIZED"));
      assert.equal(await client.api.whoami({}), "new", "a refused token leaves the current one");
      assert.equal(client.connectionId, id);
      service.publish("feed", undefined, "still subscribed");
      await until(() => got.length === 1, 2000, "the message");
      assert.deepEqual(got, ["still subscribed"]);
    } finally {
      client.close();
    }
  });

  it("authenticate() while disconnected rejects at once with DISCONNECTED instead of hanging (regression)", async () => {
    // Nothing listens on this port: the client stays disconnected.
    const client = createClient<typeof contract>("ws://127.0.0.1:1/ws", { reconnect: { min: 1000, max: 1000 } });
    try {
      const outcome = await Promise.race([
        client.authenticate("new").then(() => "resolved", (e: RpcError) => e.code),
        new Promise((r) => setTimeout(() => r("still pending"), 2000)),
      ]);
      assert.equal(outcome, "DISCONNECTED");
    } finally {
      client.close();
    }
  });

  it("lazy mode connects on first use and closes the socket when idle", async () => {
    await until(() => service.connections.size === 0, 2000, "earlier clients to leave");
    const before = 0;
    const client = createClient<typeof contract>(server.url, { lazy: { idleMs: 150 } });
    try {
      assert.equal(client.state, "idle");
      // Nothing may dial before first use: give a wrong eager connect time to show up.
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(service.connections.size, before);
      assert.equal(await client.api.echo("first use"), "first use");
      assert.equal(service.connections.size, before + 1);
      await until(() => client.state === "idle", 2000, "the idle close");
      await until(() => service.connections.size === before, 2000, "the server to see the idle close");
      assert.equal(await client.api.echo("again"), "again");
      const sub = client.api.feed.subscribe(undefined, {});
      await sub.ready;
      // An active subscription keeps a lazy client connected.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(client.state, "open");
      sub.unsubscribe();
      await until(() => client.state === "idle", 2000, "the idle close after unsubscribe");
    } finally {
      client.close();
    }
  });
});
