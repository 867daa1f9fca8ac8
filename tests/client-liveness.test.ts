/**
 * The client's heartbeat on its own (client/liveness.ts), fed by hand: it answers the server's beat,
 * beats on its own only when the server's beats stop coming (an older server), and declares the
 * server dead after the timeout without a frame. Bounds are relative to the configured timing plus the
 * event loop's lateness measured in the same test.
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createLiveness, LATENCY_EVERY, ownBeatAfter } from "../client/liveness.ts";
import { watchLoop } from "./fixtures/loop-stalls.ts";

const TIMING = { interval: 100, timeout: 300 };
const BEAT = '{"type":"pong"}';

/** A liveness whose frames and death are recorded with the time they came. */
function recorded() {
  const sent: { frame: string; at: number }[] = [];
  let died: { reason: string; at: number } | undefined;
  const liveness = createLiveness((frame) => (sent.push({ frame, at: Date.now() }), true), (reason) => (died = { reason, at: Date.now() }));
  return { liveness, sent, died: () => died };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The server's beat as the frame router passes it: a frame seen, a pong without ts. */
function beatFromServer(liveness: ReturnType<typeof createLiveness>): void {
  liveness.seen();
  liveness.pong(undefined);
}

/** A little over half an interval: a timer may fire a millisecond early by the wall clock. */
const HALF = TIMING.interval / 2 + 5;
/**
 * TIMING with a long timeout, for counting answers: the client's own beat then comes 2.6 s after its
 * last one, so no loop stall on a busy machine slips an extra beat in between the server's beats.
 */
const ANSWER_TIMING = { interval: TIMING.interval, timeout: 10_000 };

describe("client liveness", () => {
  it("pings with ts on start, then answers the server's beat at once unless it beat less than half an interval ago", async () => {
    const { liveness, sent } = recorded();
    liveness.start(ANSWER_TIMING);
    try {
      assert.equal(sent.length, 1);
      assert.match(sent[0]!.frame, /^\{"type":"ping","ts":\d+\}$/);
      beatFromServer(liveness);
      assert.equal(sent.length, 1, "a beat right after the last one is not answered");
      await sleep(HALF);
      beatFromServer(liveness);
      assert.equal(sent.at(-1)!.frame, BEAT, "the server's beat is answered with a beat");
      assert.equal(sent.length, 2);
      // Every LATENCY_EVERY-th beat is a ping again.
      for (let i = 2; i < LATENCY_EVERY; i++) {
        await sleep(HALF);
        beatFromServer(liveness);
      }
      await sleep(HALF);
      beatFromServer(liveness);
      assert.equal(sent.length, LATENCY_EVERY + 1);
      assert.match(sent.at(-1)!.frame, /^\{"type":"ping","ts":\d+\}$/);
      assert.equal(sent.slice(1, -1).every((s) => s.frame === BEAT), true);
    } finally {
      liveness.stop();
    }
  });

  it("beats on its own when no server beat comes (an older server), past one interval and before the server's ping at (interval + timeout) / 2", async () => {
    const { liveness, sent, died } = recorded();
    const loop = watchLoop();
    liveness.start(TIMING);
    try {
      const own = ownBeatAfter(TIMING);
      assert.ok(own > TIMING.interval && own < (TIMING.interval + TIMING.timeout) / 2, `own beat after ${own} ms`);
      // Frames keep coming (the server is alive) but none is a beat: the client must beat on its own.
      const until = Date.now() + own * 3;
      while (Date.now() < until) (liveness.seen(), await sleep(TIMING.interval / 4));
      const gaps = sent.slice(1).map((s, i) => s.at - sent[i]!.at);
      const stall = loop.longest();
      assert.ok(gaps.length >= 2, `${gaps.length + 1} frames in ${own * 3} ms`);
      for (const gap of gaps) assert.ok(gap >= own - 5 && gap < own + TIMING.interval / 4 + stall + 20, `own beats ${gap} ms apart (expected ${own}, longest loop stall ${stall.toFixed(0)} ms)`);
      assert.equal(died(), undefined);
    } finally {
      loop.stop();
      liveness.stop();
    }
  });

  it("declares the server dead once no frame came for the timeout, not before", async () => {
    const { liveness, died } = recorded();
    const loop = watchLoop();
    const started = Date.now();
    liveness.start(TIMING);
    try {
      const deadline = Date.now() + TIMING.timeout * 5;
      while (died() === undefined && Date.now() < deadline) await sleep(TIMING.interval / 4);
      const stall = loop.longest();
      assert.equal(died()?.reason, "heartbeat timeout");
      const after = died()!.at - started;
      assert.ok(after >= TIMING.timeout && after < TIMING.timeout + stall + 50, `declared dead after ${after} ms (longest loop stall ${stall.toFixed(0)} ms)`);
    } finally {
      loop.stop();
      liveness.stop();
    }
  });

  it("after stop, a server beat is not answered and nothing fires", async () => {
    const { liveness, sent, died } = recorded();
    liveness.start(TIMING);
    liveness.stop();
    await sleep(TIMING.interval);
    liveness.pong(undefined);
    await sleep(TIMING.timeout);
    assert.equal(sent.length, 1);
    assert.equal(died(), undefined);
  });
});
