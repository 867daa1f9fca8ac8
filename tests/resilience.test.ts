import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { type Client, createClient } from "../client/mod.ts";
import { createService, defineContract, procedure, type RunningServer, topic } from "../server/mod.ts";
import { type childContract, type ChildServer, startChildServer } from "./fixtures/child-server.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";
import { dialRecorder, watchLoop } from "./fixtures/loop-stalls.ts";
import { startTcpProxy } from "./fixtures/tcp-proxy.ts";

const contract = defineContract({
  echo: procedure({ input: v.string(), output: v.string() }),
  feed: topic({ message: v.string() }),
});

/**
 * Dial times (ms) are spread out: a wide range, and no narrow window holding a crowd. The loop's
 * longest stall, measured in the same test, widens both: every timer due during a stall fires at
 * its end, so a stall of `stall` ms may add `n · stall / jitterMs` dials to one bucket.
 */
function assertSpread(times: number[], jitterMs: number, bucketMs: number, maxPerBucket: number, stall: number): void {
  const range = Math.max(...times) - Math.min(...times);
  assert.ok(range >= jitterMs / 4 - stall, `dials span only ${range} ms (longest loop stall ${stall.toFixed(0)} ms)`);
  const buckets = new Map<number, number>();
  for (const t of times) buckets.set(Math.floor(t / bucketMs), (buckets.get(Math.floor(t / bucketMs)) ?? 0) + 1);
  const crowd = Math.max(...buckets.values());
  const allowed = maxPerBucket + Math.ceil((times.length * stall) / jitterMs);
  assert.ok(crowd <= allowed, `${crowd} of ${times.length} clients dialed within the same ${bucketMs} ms (allowed ${allowed}: longest loop stall ${stall.toFixed(0)} ms)`);
}

/** Counts live timers the client module creates, by wrapping the global timer functions. */
function trackClientTimers() {
  const real = { setTimeout, setInterval, clearTimeout, clearInterval };
  const live = new Set<unknown>();
  const fromClient = () => /[\\/]client[\\/][a-z-]+\.ts/.test(new Error().stack ?? "");
  const g = globalThis as unknown as Record<keyof typeof real, unknown>;
  g.setTimeout = (fn: () => void, ms?: number) => {
    if (!fromClient()) return real.setTimeout(fn, ms);
    const id = real.setTimeout(() => (live.delete(id), fn()), ms);
    live.add(id);
    return id;
  };
  g.setInterval = (fn: () => void, ms?: number) => {
    const id = real.setInterval(fn, ms);
    if (fromClient()) live.add(id);
    return id;
  };
  g.clearTimeout = (id: ReturnType<typeof setTimeout> | undefined) => (live.delete(id), real.clearTimeout(id));
  g.clearInterval = (id: ReturnType<typeof setInterval> | undefined) => (live.delete(id), real.clearInterval(id));
  return { live, restore: () => Object.assign(globalThis, real) };
}

describe(`Resilience on ${RUNTIME} with real sockets`, () => {
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  it("100 subscribed clients survive a SIGKILL and restart on the same port, spread over the backoff window", async () => {
    let child: ChildServer = await startChildServer();
    cleanups.push(() => child.kill());
    const window = 400;
    const clients: Client<typeof childContract>[] = [];
    const got = new Map<Client<typeof childContract>, string[]>();
    // When each client dialed the socket that brought it back: the client's choice, not the servers' pace.
    const back = new Map<Client<typeof childContract>, number>();
    const resubscribedAll = new Set<Client<typeof childContract>>();
    const loop = watchLoop();
    try {
      for (let i = 0; i < 100; i++) {
        let dialedAt = 0;
        const WebSocket = dialRecorder((at) => (dialedAt = at));
        const client = createClient<typeof childContract>(child.url, { reconnect: { min: window, max: window }, WebSocket });
        const messages: string[] = [];
        got.set(client, messages);
        client.on("reconnect", () => back.set(client, dialedAt));
        clients.push(client);
        const onSubscribed = ({ resubscribed }: { resubscribed: boolean }) => resubscribed && resubscribedAll.add(client);
        await client.api.feed.subscribe(undefined, { onData: (m) => messages.push(m), onSubscribed }).ready;
      }
      await child.kill();
      await until(() => clients.every((c) => c.state === "reconnecting"), 5000, "every client to notice the crash");
      const restartedAt = Date.now();
      child = await startChildServer(child.port);
      await until(() => back.size === 100, 10_000, "every client to reconnect");
      const times = [...back.values()].map((t) => t - restartedAt);
      // Full jitter over a 400 ms window: a thundering herd would dial within a few milliseconds.
      assertSpread(times, window, 20, 30, loop.longest());
      // The restarted server has a new stream epoch, so nothing is replayed: publish once every handle is back on it.
      await until(() => resubscribedAll.size === 100, 10_000, "every handle to resubscribe");
      await clients[0]!.api.announce("back");
      await until(() => [...got.values()].every((m) => m.includes("back")), 5000, "every resubscribed handle to get the message");
    } finally {
      loop.stop();
      for (const c of clients) c.close();
    }
  });

  it("100 clients told retry=300 by a restarting server come back after 300 ms, spread out", async () => {
    const first = createService(contract, { echo: (s) => s });
    const server = await serve(first);
    // Per client: when it learnt of the close (its timer starts then) and when it first dialed again.
    const dropped = new Map<number, number>();
    const dialed = new Map<number, number>();
    const clients = Array.from({ length: 100 }, (_, i) => {
      const WebSocket = dialRecorder((at) => dropped.has(i) && !dialed.has(i) && dialed.set(i, at));
      const client = createClient<typeof contract>(server.url, { reconnect: { min: 5, max: 5 }, WebSocket });
      client.on("state", (s) => s === "reconnecting" && !dropped.has(i) && dropped.set(i, Date.now()));
      return client;
    });
    const loop = watchLoop();
    try {
      await Promise.all(clients.map((c) => c.ready()));
      let back = 0;
      for (const c of clients) c.on("reconnect", () => back++);
      await server.stop(300);
      const second: RunningServer = await serve(createService(contract, { echo: (s) => s }), { port: server.port });
      cleanups.push(() => second.stop());
      await until(() => back === 100, 5000, "every client to come back");
      const delays = [...dialed].map(([i, at]) => at - dropped.get(i)!);
      const stall = loop.longest();
      assert.equal(delays.length, 100);
      // The advice plus up to half of it again; a timer never fires early, but may fire late by a stall.
      assert.ok(Math.min(...delays) >= 295, `a client dialed after ${Math.min(...delays)} ms`);
      assert.ok(Math.max(...delays) <= 450 + stall + 20, `a client dialed after ${Math.max(...delays)} ms (longest loop stall ${stall.toFixed(0)} ms)`);
      assertSpread(delays, 150, 10, 30, stall);
    } finally {
      loop.stop();
      for (const c of clients) c.close();
    }
  });

  it("close() leaves no client timer behind, whatever state it is called in", async () => {
    // Pings every 50 ms, so a round trip comes soon; a long timeout, so that a busy machine's stalls do not drop the link mid-test.
    const service = createService(contract, { echo: (s) => s }, { heartbeat: { interval: 50, timeout: 10_000 } });
    const server = await serve(service);
    cleanups.push(() => server.stop());
    const blackHole = await startTcpProxy(server.port);
    cleanups.push(() => blackHole.close());
    blackHole.silence();
    const timers = trackClientTimers();
    try {
      // Open, with a subscription, calls with their timeouts, pings, and a lazy idle timer.
      const open = createClient<typeof contract>(server.url, { lazy: { idleMs: 10_000 } });
      await open.api.echo("x");
      open.api.feed.subscribe(undefined, {});
      void open.api.echo("in flight").catch(() => {});
      await until(() => open.latency !== undefined, 2000, "a ping round trip");
      // Reconnecting: a backoff timer is pending.
      const reconnecting = createClient<typeof contract>(server.url, { reconnect: { min: 60_000, max: 60_000 } });
      await reconnecting.ready();
      service.connections.get(reconnecting.connectionId ?? "")?.close(1011, "drop");
      await until(() => reconnecting.state === "reconnecting", 2000, "the drop");
      // Connecting into a black hole: the hello timer is pending, a queued call holds its timeout.
      const connecting = createClient<typeof contract>(blackHole.via(server.url));
      void connecting.api.echo("queued").catch(() => {});
      // The pinger, the backoff timer, the hello timer and the queued call's timeout: the check has something to find.
      await until(() => timers.live.size >= 4, 2000, "the scenario's timers");
      for (const c of [open, reconnecting, connecting]) c.close();
      assert.equal(timers.live.size, 0, "live client timers after close()");
    } finally {
      timers.restore();
    }
  });

  it("never holds two sockets at once, however drops and online events interleave", async () => {
    const service = createService(contract, { echo: (s) => s });
    const server = await serve(service);
    cleanups.push(() => server.stop());
    let live = 0;
    let most = 0;
    class CountingSocket extends WebSocket {
      private counted = true;
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        most = Math.max(most, ++live);
        this.addEventListener("close", () => this.uncount());
      }
      override close(code?: number, reason?: string): void {
        this.uncount();
        super.close(code, reason);
      }
      private uncount(): void {
        if (this.counted) (this.counted = false, live--);
      }
    }
    const proxy = await startTcpProxy(server.port);
    cleanups.push(() => proxy.close());
    const client = createClient<typeof contract>(proxy.via(server.url), {
      reconnect: { min: 200, max: 200 },
      connectTimeout: 300,
      WebSocket: CountingSocket,
    });
    try {
      for (let round = 0; round < 3; round++) {
        await client.ready();
        // The link dies, and the next dial lands in a black hole: a socket that never says hello.
        proxy.silence();
        proxy.reset();
        await until(() => client.state === "reconnecting", 2000, "the drop");
        // The browser keeps saying it is online while that dial hangs: none of it may open a second socket.
        for (let i = 0; i < 5; i++) {
          globalThis.dispatchEvent(new Event("online"));
          await new Promise((r) => setTimeout(r, 10));
        }
        proxy.resume();
      }
      await client.ready();
      assert.equal(await client.api.echo("one socket"), "one socket");
      assert.equal(most, 1, "sockets alive at the same time");
      assert.equal(service.connections.size, 1);
    } finally {
      client.close();
    }
  });
});
