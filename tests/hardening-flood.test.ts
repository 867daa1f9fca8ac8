/**
 * Floods over raw TCP: a flood is closed with 1008 even while a trickle of its frames is accepted,
 * error frames sent back stay bounded (no flood back), binary frames pay the rate limit like any
 * frame, and a frame far over `maxFrameBytes` closes with 1009 on both runtimes.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createService, defineContract, procedure, type RunningServer } from "../server/mod.ts";
import { REFUSAL_WINDOW } from "../server/connection.ts";
import { openRaw } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve } from "./fixtures/serve.ts";
import { connectTcp, type TcpClient, type TcpFrame } from "./fixtures/tcp-client.ts";

const contract = defineContract({ echo: procedure({ input: v.string(), output: v.string() }) });

/** Small limits make every threshold reachable in a few hundred frames. */
const LIMITS = { ratePerSecond: 200, rateBurst: 50, maxFrameBytes: 4096 };

/** The steady flood's rate: 500 frames a second, 2.5 × ratePerSecond. */
const FLOOD_PER_MS = 0.5;

const isClose = (f: TcpFrame) => f.kind === "close";
const texts = (tcp: TcpClient) => tcp.frames.flatMap((f) => (f.kind === "text" ? [JSON.parse(f.text)] : []));
const errorsOf = (tcp: TcpClient, code: string) => texts(tcp).filter((f) => f.type === "error" && f.code === code).length;

/** Waits for the server's close frame; fails if TCP ends without one. */
async function closeFrame(tcp: TcpClient, ms = 10_000): Promise<{ code: number; reason: string }> {
  const frame = await tcp.next(isClose, ms);
  return frame as { code: number; reason: string };
}

describe(`floods over raw sockets on ${RUNTIME}`, () => {
  let small: RunningServer;
  let defaults: RunningServer;
  before(async () => {
    small = await serve(createService(contract, { echo: (s) => s }, { limits: LIMITS }));
    defaults = await serve(createService(contract, { echo: (s) => s }));
  });
  after(async () => {
    await small.stop();
    await defaults.stop();
  });

  it("20,000 frames in one write (default limits) close with 1008, not 4008, and get at most a few TOO_MANY_REQUESTS back; a bystander is served", async () => {
    const bystander = await openRaw(defaults.url);
    const flood = await connectTcp(defaults.url);
    try {
      const started = Date.now();
      flood.sendAll(Array.from({ length: 20_000 }, (_, i) => ({ type: "ping", ts: i })));
      bystander.send({ type: "ping", ts: -1 });
      assert.equal((await bystander.next((f) => f.type === "pong")).ts, -1);
      const { code, reason } = await closeFrame(flood);
      assert.equal(code, 1008, `closed with ${code} ${reason}`);
      const windows = Math.ceil((Date.now() - started) / REFUSAL_WINDOW) + 1;
      const refusals = errorsOf(flood, "TOO_MANY_REQUESTS");
      assert.ok(refusals >= 1 && refusals <= windows, `${refusals} TOO_MANY_REQUESTS frames in ${windows} refusal windows`);
      // Only frames the bucket admitted were answered.
      assert.ok(texts(flood).filter((f) => f.type === "pong").length < 10_000);
      bystander.send({ type: "call", id: 1, method: "echo", input: { json: "still served" } });
      assert.equal((await bystander.next((f) => f.id === 1)).output.json, "still served");
    } finally {
      flood.destroy();
      await bystander.close();
    }
  });

  it("a steady flood with a trickle of accepted frames among it is still closed with 1008 (regression: accepted frames reset the count)", async () => {
    const tcp = await connectTcp(small.url);
    try {
      // 500 frames a second against 200 allowed: about 2 of every 5 frames are accepted, forever.
      // Paced by elapsed time, not by timer ticks: a loaded machine stretches a 10 ms timer, so each
      // turn sends what the clock calls for and the rate stays 500/s however late the turn comes.
      const started = Date.now();
      let sent = 0;
      while (!tcp.frames.some(isClose) && Date.now() - started < 5000 && sent < 5000) {
        const due = Math.min(5000, Math.ceil((Date.now() - started) * FLOOD_PER_MS)) - sent;
        if (due > 0) tcp.sendAll(Array.from({ length: due }, () => ({ type: "ping" })));
        sent += Math.max(0, due);
        await new Promise((r) => setTimeout(r, 10));
      }
      const elapsed = Date.now() - started;
      const { code } = await closeFrame(tcp, 2000);
      assert.equal(code, 1008, `not closed after ${sent} frames in ${elapsed} ms`);
      const refusals = errorsOf(tcp, "TOO_MANY_REQUESTS");
      assert.ok(refusals <= Math.ceil(elapsed / REFUSAL_WINDOW) + 1, `${refusals} TOO_MANY_REQUESTS frames in ${elapsed} ms`);
    } finally {
      tcp.destroy();
    }
  });

  it("a client just over the rate gets one TOO_MANY_REQUESTS per window and stays open while it refuses fewer than rateBurst per window", async () => {
    const tcp = await connectTcp(small.url);
    try {
      // Empty the bucket, then send 10 frames over the refill: refused, answered once, not closed.
      tcp.sendAll(Array.from({ length: LIMITS.rateBurst + 10 }, () => ({ type: "ping" })));
      await tcp.next((f) => f.kind === "text" && f.text.includes("TOO_MANY_REQUESTS"));
      await new Promise((r) => setTimeout(r, REFUSAL_WINDOW));
      tcp.send({ type: "ping", ts: 7 });
      await tcp.next((f) => f.kind === "text" && f.text.includes('"ts":7'));
      assert.equal(errorsOf(tcp, "TOO_MANY_REQUESTS"), 1);
      assert.equal(tcp.frames.some(isClose), false);
    } finally {
      tcp.destroy();
    }
  });

  it("10,000 binary frames in one write pay the rate limit: closed with 1008, BAD_REQUEST only for admitted ones", async () => {
    const tcp = await connectTcp(small.url);
    try {
      const started = Date.now();
      const bytes = new Uint8Array([1, 2, 3, 4]);
      // Written back to back in the same tick: the kernel coalesces them into a few segments.
      for (let i = 0; i < 10_000; i++) tcp.sendBinary(bytes);
      const { code } = await closeFrame(tcp);
      assert.equal(code, 1008);
      const elapsedSeconds = (Date.now() - started) / 1000;
      const allowed = LIMITS.rateBurst + Math.ceil(LIMITS.ratePerSecond * elapsedSeconds) + 1;
      const bad = errorsOf(tcp, "BAD_REQUEST");
      assert.ok(bad >= 1 && bad <= allowed, `${bad} BAD_REQUEST frames; the bucket allowed ${allowed}`);
    } finally {
      tcp.destroy();
    }
  });

  it("a frame up to 4 × maxFrameBytes gets PAYLOAD_TOO_LARGE and the socket stays open; past it, text or binary, close 1009", async () => {
    const tcp = await connectTcp(small.url);
    try {
      tcp.send(JSON.stringify({ type: "ping", pad: "x".repeat(LIMITS.maxFrameBytes * 2) }));
      await tcp.next((f) => f.kind === "text" && f.text.includes("PAYLOAD_TOO_LARGE"));
      tcp.send({ type: "ping", ts: 3 });
      await tcp.next((f) => f.kind === "text" && f.text.includes('"ts":3'));
      tcp.send(JSON.stringify({ type: "ping", pad: "x".repeat(LIMITS.maxFrameBytes * 4) }));
      assert.equal((await closeFrame(tcp)).code, 1009);
    } finally {
      tcp.destroy();
    }
    const binary = await connectTcp(small.url);
    try {
      binary.sendBinary(new Uint8Array(LIMITS.maxFrameBytes * 4 + 1));
      assert.equal((await closeFrame(binary)).code, 1009);
    } finally {
      binary.destroy();
    }
  });

  it("a WebSocket client sees 1009 for a frame far over the limit (regression: Deno answered PAYLOAD_TOO_LARGE, then 1006)", async () => {
    const ws = await openRaw(small.url);
    ws.send(JSON.stringify({ type: "ping", pad: "x".repeat(LIMITS.maxFrameBytes * 5) }));
    const timeout = new Promise<{ code: number }>((r) => setTimeout(() => r({ code: -1 }), 10_000));
    assert.equal((await Promise.race([ws.closed, timeout])).code, 1009);
    await ws.close();
  });
});
