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

/** Short timing, with a timeout of four intervals: whether the client stays connected must not hinge on one scheduler hiccup of a busy machine. */
const TIMING = { interval: 300, timeout: 1200 };
/** Milliseconds between the server's sweeps with this timing (60: five slices per interval). */
const PERIOD = new Heartbeat(TIMING, new Map()).period;
/** Each stall: most of a sweep period, so a timer due during one fires up to this late. */
const STALL = PERIOD * 0.8;
/** Beats measured in each phase. */
const BEATS = 10;

/** The server's beats as one client sees them: when each arrived, and a wait for the next ones. */
class BeatLog {
  readonly times: number[] = [];
  /** Checks, at each beat, whether the pending wait has its beats. */
  private arrived: (() => void) | undefined;

  /** A WebSocket class that notes here each server beat (a `pong` without `ts`) its socket receives. */
  socketClass(): typeof WebSocket {
    const note = () => (this.times.push(performance.now()), this.arrived?.());
    return class BeatRecorder extends WebSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        this.addEventListener("message", (e) => e.data === '{"type":"pong"}' && note());
      }
    };
  }

  /** Resolves with the arrival times of the next `count` beats; rejects after `ms`. */
  next(count: number, ms: number): Promise<number[]> {
    const from = this.times.length;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => (this.arrived = undefined, reject(new Error(`${this.times.length - from} of ${count} beats came within ${ms} ms`))), ms);
      this.arrived = () => {
        if (this.times.length < from + count) return;
        clearTimeout(timer);
        this.arrived = undefined;
        resolve(this.times.slice(from, from + count));
      };
    });
  }
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
    const beats = new BeatLog();
    const watcher = createClient<typeof childContract>(child.url, { WebSocket: beats.socketClass() });
    const driver = createClient<typeof childContract>(child.url);
    const states: string[] = [];
    try {
      await Promise.all([watcher.ready(), driver.ready()]);
      const connectionId = watcher.connectionId;
      watcher.on("state", (s) => states.push(s));
      // Baseline: the beats of the idle server, on this machine as busy as it is now.
      const idle = gapsOf(await beats.next(BEATS, TIMING.timeout * BEATS));
      // Two calls in flight: the next stall is queued before the last one ends, so the loop is never idle for long.
      let stalls = 0;
      let stalling = true;
      const stallStart = performance.now();
      const stallLoop = async () => {
        for (let i = 0; stalling && i < (TIMING.timeout * BEATS) / STALL; i++) (await driver.api.stall(STALL), stalls++);
      };
      const loops = [stallLoop(), stallLoop()];
      let loaded: number[];
      try {
        // The first beat may be due before the stalls began: count from the second.
        loaded = gapsOf((await beats.next(BEATS + 1, TIMING.timeout * BEATS)).slice(1));
      } finally {
        stalling = false;
        await Promise.all(loops);
      }
      const busy = (stalls * STALL) / (performance.now() - stallStart);
      const report = `idle gaps ${idle.map(Math.round).join(", ")}; loaded gaps ${loaded.map(Math.round).join(", ")} ms; the server busy ${(busy * 100).toFixed(0)}% of the time`;
      assert.ok(busy >= 0.5, `the stalls kept the server busy only ${(busy * 100).toFixed(0)}% of the time`);
      // By the clock, beats keep the interval on average; by the count of sweeps they came some 60% slower here.
      assert.ok(mean(loaded) <= Math.max(mean(idle), TIMING.interval) + PERIOD, `beats on average ${mean(loaded).toFixed(0)} ms apart (${report})`);
      // One gap may hold a sweep late by both stalls in flight, beyond what the idle server's longest gap already held.
      const longest = Math.max(...idle) + 2 * STALL + PERIOD;
      assert.ok(Math.max(...loaded) <= longest, `a gap of ${Math.max(...loaded).toFixed(0)} ms, over ${longest.toFixed(0)} (${report})`);
      assert.deepEqual(states, [], "the client never left the open state");
      assert.equal(watcher.connectionId, connectionId);
    } finally {
      watcher.close();
      driver.close();
    }
  });
});
