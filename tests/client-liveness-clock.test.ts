/**
 * The client's heartbeat deadlines run on the monotonic clock: a wall clock stepped back an hour
 * (`Date.now()` replaced for the test) does not delay declaring a silent server dead.
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createLiveness } from "../client/liveness.ts";

const TIMING = { interval: 100, timeout: 300 };
const HOUR = 3_600_000;

describe("client liveness and the wall clock", () => {
  it("declares a silent server dead after the timeout even when the wall clock steps back an hour", async () => {
    const wall = Date.now;
    let died: string | undefined;
    const liveness = createLiveness(() => true, (reason) => (died = reason));
    const started = performance.now();
    try {
      liveness.start(TIMING);
      Date.now = () => wall() - HOUR;
      // Bounded: twenty timeouts; with wall-clock deadlines the death would come an hour late.
      while (died === undefined && performance.now() - started < TIMING.timeout * 20) await new Promise((r) => setTimeout(r, TIMING.interval / 4));
      assert.equal(died, "heartbeat timeout");
      assert.ok(performance.now() - started >= TIMING.timeout, "not before the timeout");
    } finally {
      Date.now = wall;
      liveness.stop();
    }
  });
});
