import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createClient, RpcError, type StateChange, type TransportKind } from "../client/mod.ts";
import { httpFallback } from "../client/http.ts";
import { createService, defineContract, procedure, type RunningServer, topic } from "../server/mod.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";
import { type HttpProxy, startHttpProxy } from "./fixtures/http-proxy.ts";

const contract = defineContract({
  echo: procedure({ input: v.string(), output: v.string() }),
  slow: procedure({ input: v.number(), output: v.string() }),
  feed: topic({ message: v.number(), history: {} }),
  room: topic({ params: v.object({ id: v.string() }), message: v.string(), presence: v.object({ name: v.string() }), clientPublish: true }),
});

let cancelled = 0;
const makeService = (options: { heartbeat?: { interval: number; timeout: number } } = {}) =>
  createService(contract, {
    echo: (s) => s,
    slow: (ms, ctx) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve("done"), ms);
        ctx.signal.addEventListener("abort", () => (clearTimeout(timer), cancelled++, reject(ctx.signal.reason)));
      }),
    room: { presence: (_params, ctx) => ({ key: ctx.connectionId, meta: { name: ctx.connectionId } }) },
  }, options);

describe(`HTTP fallback on ${RUNTIME}: WebSocket refused by a proxy`, () => {
  let service: ReturnType<typeof makeService>;
  let server: RunningServer;
  let proxy: HttpProxy;
  before(async () => {
    service = makeService();
    server = await serve(service);
    proxy = await startHttpProxy([server.port]);
  });
  after(async () => {
    await proxy.close();
    await server.stop();
  });

  const connect = () => {
    const fallback = httpFallback({ probeInterval: 200 });
    const client = createClient<typeof contract>(proxy.via(server.url), { WebSocket: fallback.WebSocket, reconnect: { min: 20, max: 200 } });
    return { fallback, client };
  };

  it("switches to HTTP without app code: calls, timeouts and cancel work", async () => {
    const { fallback, client } = connect();
    try {
      const started = Date.now();
      assert.equal(await client.api.echo("hi"), "hi");
      assert.ok(Date.now() - started < 3000, "on HTTP within 3 s");
      assert.equal(fallback.transport, "http");
      const base = cancelled;
      const timedOut = await client.api.slow(5000, { timeout: 50 }).catch((e: RpcError) => e.code);
      assert.equal(timedOut, "TIMEOUT");
      // The timed-out call's cancel reaches the server too. Under load its call POST may not even have
      // arrived yet (inflight is 0 then as well), so await its handler's cancel, not an empty inflight.
      await until(() => cancelled === base + 1, 5000, "the timed-out call's handler to see its cancel");
      const ac = new AbortController();
      const call = client.api.slow(5000, { signal: ac.signal });
      setTimeout(() => ac.abort(), 30);
      assert.equal(await call.catch((e: RpcError) => e.code), "CANCELLED");
      await until(() => cancelled === base + 2, 5000, "the server's handler to see the cancel");
      const many = await Promise.all(Array.from({ length: 50 }, (_, i) => client.api.echo(`m${i}`)));
      assert.deepEqual(many, Array.from({ length: 50 }, (_, i) => `m${i}`));
    } finally {
      client.close();
    }
  });

  it("subscriptions get every message in order, with presence and client publish", async () => {
    const a = connect();
    const b = connect();
    try {
      const got: number[] = [];
      const sub = a.client.api.feed.subscribe(undefined, { onData: (n) => got.push(n) });
      await sub.ready;
      for (let i = 1; i <= 100; i++) service.publish("feed", undefined, i);
      await until(() => got.length === 100, 5000, "100 events");
      assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => i + 1));

      const heard: string[] = [];
      const ra = a.client.api.room.subscribe({ id: "r" }, { onData: (m) => heard.push(m) });
      await ra.ready;
      const rb = b.client.api.room.subscribe({ id: "r" });
      await rb.ready;
      await until(() => ra.presence.count === 2, 5000, "presence of two");
      await b.client.api.room.publish({ id: "r" }, "from b");
      await until(() => heard.includes("from b"), 5000, "b's publish");
      assert.equal(b.fallback.transport, "http");
    } finally {
      a.client.close();
      b.client.close();
    }
  });

  it("a dropped HTTP session reconnects over HTTP and recovers with since: every message once, in order", async () => {
    const { fallback, client } = connect();
    try {
      const got: number[] = [];
      const confirms: { recovered: boolean; resubscribed: boolean }[] = [];
      const sub = client.api.feed.subscribe(undefined, { onData: (n) => got.push(n), onSubscribed: (i) => confirms.push(i) });
      await sub.ready;
      const base = got.length;
      let sent = 0;
      const publisher = setInterval(() => service.publish("feed", undefined, 5000 + sent++), 5);
      try {
        await until(() => got.length - base >= 5, 5000, "the first messages");
        const first = client.connectionId;
        service.connections.get(first!)!.close(4000, "dropped by the test");
        await until(() => client.state === "open" && client.connectionId !== first, 5000, "the new HTTP session");
        const mark = got.length;
        await until(() => got.length >= mark + 5, 5000, "messages after the drop");
      } finally {
        clearInterval(publisher);
      }
      await until(() => got.length - base === sent, 5000, "every message");
      assert.deepEqual(got.slice(base), Array.from({ length: sent }, (_, i) => 5000 + i));
      assert.deepEqual(confirms.at(-1), { recovered: true, resubscribed: true });
      assert.equal(fallback.transport, "http");
    } finally {
      client.close();
    }
  });

  it("moves back to WebSocket when upgrades pass again, losing and repeating nothing; the state events say http, then websocket", async () => {
    const { fallback, client } = connect();
    const opens: (TransportKind | undefined)[] = [];
    client.on("state", (state, change) => state === "open" && opens.push(change.transport));
    try {
      const got: number[] = [];
      const sub = client.api.feed.subscribe(undefined, { onData: (n) => got.push(n) });
      await sub.ready;
      assert.equal(fallback.transport, "http");
      const base = got.length;
      let sent = 0;
      const publisher = setInterval(() => service.publish("feed", undefined, 1000 + sent++), 5);
      proxy.blockUpgrades = false;
      try {
        await until(() => fallback.transport === "websocket", 10_000, "the move to WebSocket");
        assert.equal(await client.api.echo("ws"), "ws");
      } finally {
        clearInterval(publisher);
      }
      await until(() => got.length - base === sent, 5000, "every message across the switch");
      assert.deepEqual(got.slice(base), Array.from({ length: sent }, (_, i) => 1000 + i));
      assert.equal(opens[0], "http", "the first open was on HTTP");
      assert.equal(opens.at(-1), "websocket", "the last open is on the WebSocket");
      assert.ok(opens.every((t) => t === "http" || t === "websocket"), `every open names its transport: ${opens.join(", ")}`);
    } finally {
      proxy.blockUpgrades = true;
      client.close();
    }
  });

  it("a client on a plain WebSocket reports no transport in its state events", async () => {
    const client = createClient<typeof contract>(server.url);
    const opens: StateChange[] = [];
    client.on("state", (state, change) => state === "open" && opens.push(change));
    try {
      await client.ready();
      assert.deepEqual(opens, [{ reason: "connected", transport: undefined }]);
    } finally {
      client.close();
    }
  });
});

describe(`HTTP fallback on ${RUNTIME}: refused credentials`, () => {
  it("a refused HTTP session ends the client in state unauthorized with the server's message, without looping", async () => {
    const service = createService(contract, {
      echo: (s) => s,
      slow: () => "",
      room: {},
    }, { authenticate: () => { throw new RpcError("UNAUTHORIZED", "Token expired"); } });
    const server = await serve(service);
    const proxy = await startHttpProxy([server.port]);
    const fallback = httpFallback();
    const client = createClient<typeof contract>(proxy.via(server.url), { WebSocket: fallback.WebSocket, reconnect: { min: 20, max: 100 } });
    try {
      const seen: { code?: number | undefined; reason: string }[] = [];
      client.on("state", (state, change) => state === "unauthorized" && seen.push(change));
      await until(() => client.state === "unauthorized", 5000, "the unauthorized state");
      assert.equal(seen[0]?.code, 4401);
      assert.equal(seen[0]?.reason, "Token expired");
      const refusals = proxy.counts[0];
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(proxy.counts[0], refusals, "no further attempts");
    } finally {
      client.close();
      await proxy.close();
      await server.stop();
    }
  });
});
