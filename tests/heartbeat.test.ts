import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createClient } from "../client/mod.ts";
import { ownBeatAfter } from "../client/liveness.ts";
import { createService, defineContract, procedure, type RunningServer, type Service } from "../server/mod.ts";
import { watchLoop } from "./fixtures/loop-stalls.ts";
import { openRaw } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";
import { startTcpProxy, type TcpProxy } from "./fixtures/tcp-proxy.ts";

const contract = defineContract({
  echo: procedure({ input: v.string(), output: v.string() }),
});

const INTERVAL = 100;
const TIMEOUT = 300;
/** Slack on top of one sweep interval; each bound also adds the event loop's longest stall, measured in the test. */
const MARGIN = 700;

describe(`Heartbeat over a real ${RUNTIME} server`, () => {
  let service: Service<typeof contract>;
  let server: RunningServer;
  let proxy: TcpProxy;
  before(async () => {
    service = createService(contract, { echo: (s) => s }, { heartbeat: { interval: INTERVAL, timeout: TIMEOUT } });
    server = await serve(service);
    proxy = await startTcpProxy(server.port);
  });
  after(async () => {
    await proxy.close();
    await server.stop();
  });

  it("hello announces the heartbeat and a client that sends nothing gets a beat (a pong without ts) every interval", async () => {
    // A server of its own with a long timeout: a peer that sends nothing lives long enough to see four beats.
    const beating = createService(contract, { echo: (s) => s }, { heartbeat: { interval: INTERVAL, timeout: INTERVAL * 20 } });
    const running = await serve(beating);
    const raw = await openRaw(running.url);
    const loop = watchLoop();
    try {
      assert.deepEqual(raw.hello.heartbeat, { interval: INTERVAL, timeout: INTERVAL * 20 });
      const isBeat = (f: Record<string, unknown>) => f.type === "pong" && !("ts" in f);
      await raw.next(isBeat, 2000);
      const started = Date.now();
      for (let i = 0; i < 3; i++) await raw.next(isBeat, 2000);
      const elapsed = Date.now() - started;
      // Three beats take about three intervals: not a flood, not a stall (each may be late by a loop stall).
      const stall = loop.longest();
      assert.ok(elapsed >= INTERVAL * 1.5 && elapsed < INTERVAL * 3 + MARGIN + 3 * stall, `three beats took ${elapsed} ms (longest loop stall ${stall.toFixed(0)} ms)`);
      assert.equal(raw.frames.some((f) => f.type === "ping"), false, "a peer silent for less than (interval + timeout) / 2 is not pinged");
    } finally {
      loop.stop();
      await raw.close();
      await running.stop();
    }
  });

  it("the server closes a peer that sends nothing with 4000 within the timeout", async () => {
    const raw = await openRaw(server.url);
    const loop = watchLoop();
    const opened = Date.now();
    const { code } = await raw.closed;
    const after = Date.now() - opened;
    const stall = loop.longest();
    loop.stop();
    assert.equal(code, 4000);
    assert.ok(after >= TIMEOUT - 50 && after < TIMEOUT + INTERVAL + MARGIN + stall, `closed after ${after} ms (longest loop stall ${stall.toFixed(0)} ms)`);
    await until(() => service.connections.size === 0, 2000, "the server to forget the connection");
  });

  it("a peer that only answers pings (an old client) is pinged once it is silent for (interval + timeout) / 2, and stays connected past the timeout and the runtime's own idle timeout", async () => {
    // A server of its own with a 1 s timeout: a busy machine's event-loop stalls stay well inside it,
    // while 2.5 s still outlives both the timeout and Bun's own idle timeout (2 × timeout = 2 s).
    const patient = createService(contract, { echo: (s) => s }, { heartbeat: { interval: INTERVAL, timeout: 1000 } });
    const running = await serve(patient);
    const raw = await openRaw(running.url);
    try {
      const deadline = Date.now() + 2500;
      let pings = 0;
      let silentFrom = Date.now();
      while (Date.now() < deadline) {
        await raw.next((f) => f.type === "ping", 2000);
        const silence = Date.now() - silentFrom;
        assert.ok(silence >= (INTERVAL + 1000) / 2 * 0.95, `pinged after only ${silence} ms of silence`);
        raw.send({ type: "pong" });
        silentFrom = Date.now();
        pings++;
      }
      assert.ok(pings >= 2, `${pings} pings answered`);
      assert.equal(raw.ws.readyState, WebSocket.OPEN);
    } finally {
      await raw.close();
      await running.stop();
    }
  });

  it("a peer that pings every interval (an old client) gets a pong for each and stays connected", async () => {
    const patient = createService(contract, { echo: (s) => s }, { heartbeat: { interval: INTERVAL, timeout: 1000 } });
    const running = await serve(patient);
    const raw = await openRaw(running.url);
    try {
      for (let ts = 1; ts <= 15; ts++) {
        raw.send({ type: "ping", ts });
        await raw.next((f) => f.type === "pong" && f.ts === ts, 2000);
        await new Promise((r) => setTimeout(r, INTERVAL));
      }
      assert.equal(raw.frames.some((f) => f.type === "ping"), false, "a peer that sends every interval is never pinged");
      assert.equal(raw.ws.readyState, WebSocket.OPEN);
    } finally {
      await raw.close();
      await running.stop();
    }
  });

  it("one sweep timer serves every connection (no timer per connection)", async () => {
    const real = globalThis.setInterval;
    let created = 0;
    globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => (created++, real(...args))) as typeof setInterval;
    const raws = [];
    try {
      for (let i = 0; i < 20; i++) raws.push(await openRaw(server.url));
    } finally {
      globalThis.setInterval = real;
    }
    await Promise.all(raws.map((r) => r.close()));
    await until(() => service.connections.size === 0, 2000, "connections to close");
    // The sweep starts with the first connection; none of the 20 opens adds another interval.
    assert.ok(created <= 1, `${created} intervals created for 20 connections`);
  });

  it("client.latency reports the round-trip time from its pings", async () => {
    const client = createClient<typeof contract>(server.url);
    const loop = watchLoop();
    try {
      await client.ready();
      await until(() => client.latency !== undefined, 2000, "a pong");
      const stall = loop.longest();
      assert.ok(client.latency! >= 0 && client.latency! < 250 + stall, `latency ${client.latency} ms on loopback (longest loop stall ${stall.toFixed(0)} ms)`);
      // The client keeps the connection alive by answering the server's beats.
      await new Promise((r) => setTimeout(r, TIMEOUT * 2));
      assert.equal(client.state, "open");
      assert.equal(await client.api.echo("still here"), "still here");
    } finally {
      loop.stop();
      client.close();
    }
  });

  it("an idle client answers each server beat: the server hears from it every interval, long before the client's own beat would come, and never pings it", async () => {
    // A long timeout puts the client's own beat (ownBeatAfter) and the server's ping far beyond one interval.
    const timing = { interval: INTERVAL, timeout: INTERVAL * 40 };
    const answering = createService(contract, { echo: (s) => s }, { heartbeat: timing });
    const running = await serve(answering);
    const client = createClient<typeof contract>(running.url);
    const loop = watchLoop();
    try {
      await client.ready();
      const conn = [...answering.connections.values()][0]!;
      let pings = 0;
      const send = conn.send.bind(conn);
      conn.send = (frame) => {
        if (frame === '{"type":"ping"}') pings++;
        return send(frame);
      };
      let longest = 0;
      const until = Date.now() + ownBeatAfter(timing) * 2;
      while (Date.now() < until) {
        longest = Math.max(longest, performance.now() - conn.lastSeen);
        await new Promise((r) => setTimeout(r, INTERVAL / 4));
      }
      const stall = loop.longest();
      assert.ok(longest < INTERVAL * 2 + 2 * stall && longest < ownBeatAfter(timing), `the server heard nothing for ${longest} ms (own beat after ${ownBeatAfter(timing)} ms, longest loop stall ${stall.toFixed(0)} ms)`);
      // The watch outlasts the server's ping at (interval + timeout) / 2 of silence.
      assert.equal(pings, 0, "the server pinged a client that answers its beats");
      assert.equal(client.state, "open");
    } finally {
      loop.stop();
      client.close();
      await running.stop();
    }
  });

  it("a half-open connection is detected by both sides within the timeout, then the client heals", async () => {
    const client = createClient<typeof contract>(proxy.via(server.url), { reconnect: { min: 50, max: 200 }, connectTimeout: 500 });
    try {
      await client.ready();
      const firstId = client.connectionId;
      assert.equal(service.connections.size, 1);
      const states: string[] = [];
      client.on("state", (s) => states.push(s));
      const loop = watchLoop();
      proxy.silence();
      const silencedAt = Date.now();
      await until(() => client.state !== "open", 10_000, "the client to notice the dead link");
      const clientNoticed = Date.now() - silencedAt;
      await until(() => service.connections.size === 0, 10_000, "the server to drop the dead link");
      const serverNoticed = Date.now() - silencedAt;
      const stall = loop.longest();
      loop.stop();
      assert.ok(clientNoticed >= TIMEOUT - INTERVAL, `client gave up after only ${clientNoticed} ms`);
      assert.ok(serverNoticed >= TIMEOUT - INTERVAL, `server gave up after only ${serverNoticed} ms`);
      const late = TIMEOUT + INTERVAL + MARGIN + stall;
      assert.ok(clientNoticed < late && serverNoticed < late, `noticed after ${clientNoticed} / ${serverNoticed} ms (longest loop stall ${stall.toFixed(0)} ms)`);
      proxy.resume();
      await client.ready();
      assert.notEqual(client.connectionId, firstId);
      assert.equal(await client.api.echo("healed"), "healed");
      assert.equal(states[0], "reconnecting");
      assert.equal(states.at(-1), "open");
      assert.equal(service.connections.size, 1);
    } finally {
      client.close();
    }
  });
});
