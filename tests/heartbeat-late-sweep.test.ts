/**
 * An overloaded server keeps its beats one interval apart: its event loop stalls again and again (a
 * procedure that busy-waits most of a sweep period, called back to back), so its sweep timer fires
 * late every time; the sweep catches up by the clock, and a real client stays connected, its beats
 * spaced as without the stalls. The server runs in a child process, so that its stalls do not stall
 * the client watching it.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "../client/mod.ts";
import { Heartbeat } from "../server/heartbeat.ts";
import { type ChildServer, type childContract, startChildServer } from "./fixtures/child-server.ts";
import { RUNTIME } from "./fixtures/serve.ts";

/** Short timing: the client declares the server dead after two intervals without a frame. */
const TIMING = { interval: 300, timeout: 600 };
/** Milliseconds between the server's sweeps with this timing (30: ten slices per interval). */
const PERIOD = new Heartbeat(TIMING, new Map()).period;
/** Each stall: most of a sweep period, so a timer due during one fires up to this late. */
const STALL = PERIOD * 0.8;
/** Beats measured in each phase. */
const BEATS = 10;

/** A WebSocket class that records when each server beat (a `pong` without `ts`) arrives. */
function beatRecorder(beats: number[]): typeof WebSocket {
  return class BeatRecorder extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      this.addEventListener("message", (e) => e.data === '{"type":"pong"}' && beats.push(Date.now()));
    }
  };
}

/** Resolves once `beats` holds `count` more than it held when called; rejects after `ms`. */
async function moreBeats(beats: number[], count: number, ms: number): Promise<number[]> {
  const from = beats.length;
  const deadline = Date.now() + ms;
  while (beats.length < from + count) {
    if (Date.now() > deadline) throw new Error(`${beats.length - from} of ${count} beats came within ${ms} ms`);
    await new Promise((r) => setTimeout(r, PERIOD));
  }
  return beats.slice(from, from + count);
}

const gapsOf = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe(`an overloaded ${RUNTIME} server's beats`, () => {
  let child: ChildServer;
  before(async () => {
    child = await startChildServer(0, TIMING);
  });
  after(() => child.kill());

  it("stay one interval apart while the server's event loop stalls every sweep, and the client stays connected (regression: beats came ten × (period + lateness) apart)", async () => {
    const beats: number[] = [];
    const watcher = createClient<typeof childContract>(child.url, { WebSocket: beatRecorder(beats) });
    const driver = createClient<typeof childContract>(child.url);
    const states: string[] = [];
    try {
      await Promise.all([watcher.ready(), driver.ready()]);
      const connectionId = watcher.connectionId;
      watcher.on("state", (s) => states.push(s));
      // Baseline: the beats of the idle server, on this machine as busy as it is now.
      const idle = gapsOf(await moreBeats(beats, BEATS, TIMING.timeout * BEATS));
      // Two calls in flight: the next stall is queued before the last one ends, so the loop is never idle for long.
      let stalls = 0;
      let stalling = true;
      const stallStart = Date.now();
      const stallLoop = async () => {
        for (let i = 0; stalling && i < (TIMING.timeout * BEATS) / STALL; i++) (await driver.api.stall(STALL), stalls++);
      };
      const loops = [stallLoop(), stallLoop()];
      let loaded: number[];
      try {
        // The first beat may be due before the stalls began: count from the second.
        loaded = gapsOf((await moreBeats(beats, BEATS + 1, TIMING.timeout * BEATS)).slice(1));
      } finally {
        stalling = false;
        await Promise.all(loops);
      }
      const busy = (stalls * STALL) / (Date.now() - stallStart);
      const report = `idle gaps ${idle.join(", ")}; loaded gaps ${loaded.join(", ")} ms; the server busy ${(busy * 100).toFixed(0)}% of the time`;
      assert.ok(busy >= 0.5, `the stalls kept the server busy only ${(busy * 100).toFixed(0)}% of the time`);
      // By the clock, beats keep the interval on average; by the count of sweeps they came some 60% slower here.
      assert.ok(mean(loaded) <= Math.max(mean(idle), TIMING.interval) + PERIOD, `beats on average ${mean(loaded).toFixed(0)} ms apart (${report})`);
      assert.ok(Math.max(...loaded) < TIMING.timeout, `a gap of ${Math.max(...loaded)} ms reaches the timeout (${report})`);
      assert.deepEqual(states, [], "the client never left the open state");
      assert.equal(watcher.connectionId, connectionId);
    } finally {
      watcher.close();
      driver.close();
    }
  });
});
