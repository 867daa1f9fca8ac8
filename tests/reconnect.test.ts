import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { type Client, createClient, RpcError } from "../client/mod.ts";
import { createService, defineContract, procedure, type RunningServer, topic } from "../server/mod.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";
import { dialRecorder, watchLoop } from "./fixtures/loop-stalls.ts";
import { startTcpProxy } from "./fixtures/tcp-proxy.ts";

const contract = defineContract({
  echo: procedure({ input: v.string(), output: v.string() }),
  feed: topic({ message: v.string() }),
});

const makeService = (heartbeat?: { interval: number; timeout: number }) =>
  createService(contract, { echo: (s) => s }, heartbeat === undefined ? {} : { heartbeat });

type TestService = ReturnType<typeof makeService>;

/** Closes a client's connection from the server side, as a restart, a load balancer or a crash would. */
function dropFromServer(service: TestService, client: Client<typeof contract>, code: number, reason = ""): void {
  const conn = service.connections.get(client.connectionId ?? "");
  assert.ok(conn !== undefined, "the client has a connection on this server");
  conn.close(code, reason);
}

describe(`Reconnect against a real ${RUNTIME} server`, () => {
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const started = async (service: TestService, port?: number): Promise<RunningServer> => {
    const server = await serve(service, port === undefined ? {} : { port });
    cleanups.push(() => server.stop());
    return server;
  };

  it("a server restarted on the same port gets the client back: same handle resubscribed, new messages arrive", async () => {
    const first = makeService();
    const server = await started(first);
    const client = createClient<typeof contract>(server.url, { reconnect: { min: 20, max: 200 } });
    try {
      const got: string[] = [];
      const confirms: { recovered: boolean; resubscribed: boolean }[] = [];
      const states: string[] = [];
      const reconnects: number[] = [];
      client.on("state", (s) => states.push(s));
      client.on("reconnect", ({ attempt }) => reconnects.push(attempt));
      const sub = client.api.feed.subscribe(undefined, { onData: (m) => got.push(m), onSubscribed: (i) => confirms.push(i) });
      await sub.ready;
      first.publish("feed", undefined, "before");
      await until(() => got.length === 1, 2000, "the first message");

      await server.stop(50);
      const second = makeService();
      await started(second, server.port);
      await until(() => confirms.length === 2, 5000, "the resubscription");
      assert.deepEqual(confirms[1], { recovered: false, resubscribed: true });
      second.publish("feed", undefined, "after");
      await until(() => got.length === 2, 2000, "a message from the restarted server");
      assert.deepEqual(got, ["before", "after"]);
      assert.equal(reconnects.length, 1);
      assert.deepEqual(states.slice(states.indexOf("reconnecting")).filter((s, i, all) => s !== all[i - 1]).at(-1), "open");
      assert.equal(client.state, "open");
      assert.equal(second.connections.size, 1);
      assert.equal(await client.api.echo("works"), "works");
    } finally {
      client.close();
    }
  });

  it("the client honours a 1013 retry advice, spread by jitter", async () => {
    const service = makeService();
    const server = await started(service);
    const ADVICE = 300;
    // Per client: when it learnt of the close (its retry timer starts then) and when it dialed again.
    const droppedAt = new Map<number, number>();
    const dialedAt = new Map<number, number>();
    // Without the advice these clients would be back within 5 ms.
    const clients = Array.from({ length: 8 }, (_, i) => {
      const WebSocket = dialRecorder((at) => droppedAt.has(i) && !dialedAt.has(i) && dialedAt.set(i, at));
      const client = createClient<typeof contract>(server.url, { reconnect: { min: 5, max: 5 }, WebSocket });
      client.on("state", (s) => s === "reconnecting" && !droppedAt.has(i) && droppedAt.set(i, Date.now()));
      return client;
    });
    const loop = watchLoop();
    try {
      await Promise.all(clients.map((c) => c.ready()));
      let back = 0;
      for (const c of clients) c.on("reconnect", () => back++);
      for (const c of clients) dropFromServer(service, c, 1013, `retry=${ADVICE}`);
      await until(() => back === clients.length, 5000, "every client to come back");
      const delays = [...dialedAt].map(([i, at]) => at - droppedAt.get(i)!);
      // A timer never fires early, but fires late by as much as the event loop stalled meanwhile.
      const stall = loop.longest();
      for (const d of delays) assert.ok(d >= ADVICE - 5 && d <= ADVICE * 1.5 + stall + 20, `dialed after ${d} ms (longest loop stall ${stall.toFixed(0)} ms)`);
      // Eight delays drawn over 150 ms; a stall fires every timer due during it at once.
      assert.ok(Math.max(...delays) - Math.min(...delays) >= Math.min(15, 150 - stall), `no jitter: ${delays.join(", ")}`);
    } finally {
      loop.stop();
      for (const c of clients) c.close();
    }
  });

  it("an online event retries at once instead of waiting out the backoff", async () => {
    const service = makeService();
    const server = await started(service);
    const client = createClient<typeof contract>(server.url);
    try {
      await client.ready();
      const droppedAt = Date.now();
      dropFromServer(service, client, 1001, "retry=5000");
      await until(() => client.state === "reconnecting", 2000, "the drop");
      globalThis.dispatchEvent(new Event("online"));
      await client.ready();
      // The advice alone could not bring it back before 5000 ms after the drop.
      assert.ok(Date.now() - droppedAt < 5000, `back after ${Date.now() - droppedAt} ms, advice was 5000`);
    } finally {
      client.close();
    }
  });

  it("a visibilitychange probes the socket: a woken tab drops a dead link well before the heartbeat timeout", async () => {
    const service = makeService({ interval: 500, timeout: 3000 });
    const server = await started(service);
    const proxy = await startTcpProxy(server.port);
    cleanups.push(() => proxy.close());
    const global = globalThis as { document?: { visibilityState: string } };
    global.document = { visibilityState: "visible" };
    // The reason the client gives when it closes its socket says which check found the dead link.
    const reasons: string[] = [];
    class ReasonRecorder extends WebSocket {
      override close(code?: number, reason?: string): void {
        reasons.push(reason ?? "");
        super.close(code, reason);
      }
    }
    const client = createClient<typeof contract>(proxy.via(server.url), { reconnect: { min: 20, max: 50 }, connectTimeout: 500, WebSocket: ReasonRecorder });
    try {
      await client.ready();
      proxy.silence();
      globalThis.dispatchEvent(new Event("visibilitychange"));
      await until(() => client.state !== "open", 5000, "the probe to fail");
      assert.deepEqual(reasons, ["no answer after wake-up"], "the wake-up probe, not the 3000 ms heartbeat timeout, dropped the link");
      proxy.resume();
      await until(() => client.state === "open", 3000, "the reconnect");
      assert.equal(await client.api.echo("awake"), "awake");
    } finally {
      client.close();
      delete global.document;
    }
  });

  it("messages published while disconnected are replayed after the resubscribe, none twice", async () => {
    const service = makeService();
    const server = await started(service);
    let hold: Promise<void> | undefined;
    let release = () => {};
    const client = createClient<typeof contract>(server.url, { reconnect: { min: 5, max: 5 }, params: async () => (await hold, {}) });
    try {
      const got: string[] = [];
      const confirms: { recovered: boolean; resubscribed: boolean }[] = [];
      const sub = client.api.feed.subscribe(undefined, { onData: (m) => got.push(m), onSubscribed: (i) => confirms.push(i) });
      await sub.ready;
      service.publish("feed", undefined, "1");
      await until(() => got.length === 1, 2000, "the first message");
      hold = new Promise((r) => (release = r));
      dropFromServer(service, client, 1011, "drop");
      await until(() => service.connections.size === 0, 2000, "the drop");
      service.publish("feed", undefined, "2");
      service.publish("feed", undefined, "3");
      release();
      await until(() => confirms.length === 2, 3000, "the resubscription");
      service.publish("feed", undefined, "4");
      await until(() => got.length >= 4, 2000, "the replay and the live message");
      assert.deepEqual(got, ["1", "2", "3", "4"]);
      assert.deepEqual(confirms[1], { recovered: true, resubscribed: true });
    } finally {
      release();
      client.close();
    }
  });

  it("the attempt count resets once a connection stays up for stableAfter; a flapping one runs out", async () => {
    const service = makeService();
    const server = await started(service);
    const options = { reconnect: { min: 5, max: 5, maxAttempts: 2, stableAfter: 150 } };
    const steady = createClient<typeof contract>(server.url, options);
    const flapping = createClient<typeof contract>(server.url, options);
    try {
      let steadyBack = 0;
      steady.on("reconnect", () => steadyBack++);
      for (let drop = 1; drop <= 4; drop++) {
        await steady.ready();
        const openedAt = Date.now();
        await until(() => Date.now() - openedAt > 200, 1000, "the connection to count as stable");
        dropFromServer(service, steady, 1011, "drop");
        await until(() => steadyBack === drop, 2000, "the reconnect");
      }
      assert.equal(await steady.api.echo("still trying"), "still trying");
      // Each time the flapping client gets in, it is thrown out at once: two attempts, then it stops.
      await flapping.ready();
      let reopened = 0;
      flapping.on("state", (s) => s === "open" && (reopened++, dropFromServer(service, flapping, 1011, "drop")));
      dropFromServer(service, flapping, 1011, "drop");
      await until(() => flapping.state === "closed", 2000, "the flapping client to give up");
      assert.equal(reopened, 2);
    } finally {
      steady.close();
      flapping.close();
    }
  });

  it("gives up after maxAttempts and closes, failing what waited", async () => {
    const gone = await serve(makeService());
    const url = gone.url;
    await gone.stop();
    const client = createClient<typeof contract>(url, { reconnect: { min: 10, max: 20, maxAttempts: 3 } });
    const queued = client.api.echo("never").catch((e) => e);
    await until(() => client.state === "closed", 5000, "the client to give up");
    const error = await queued;
    assert.ok(error instanceof RpcError);
    assert.equal(error.code, "DISCONNECTED");
    await assert.rejects(client.ready(), (e) => e instanceof RpcError && e.code === "DISCONNECTED");
  });

  it("close() stops for good: state closed, calls and ready() reject, no reconnect", async () => {
    const service = makeService();
    const server = await started(service);
    const client = createClient<typeof contract>(server.url, { reconnect: { min: 5, max: 5 } });
    await client.ready();
    const states: string[] = [];
    client.on("state", (s) => states.push(s));
    client.close();
    assert.equal(client.state, "closed");
    assert.deepEqual(states, ["closed"]);
    await assert.rejects(client.ready(), (e) => e instanceof RpcError && e.code === "DISCONNECTED");
    await assert.rejects(client.api.echo("x"), (e) => e instanceof RpcError && e.code === "DISCONNECTED");
    await until(() => service.connections.size === 0, 2000, "the server to see the close");
    // A client that reconnected by mistake would show up within a few backoff periods.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(service.connections.size, 0);
    assert.deepEqual(states, ["closed"]);
  });
});
