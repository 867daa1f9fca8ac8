/**
 * The call latency histogram (`tether_call_duration_seconds`) after the per-call clock reads went:
 * a call is timed from the clock read of the turn its frame was received in (turn-clock.ts) to
 * its answer, to the millisecond, whether its handler answered in that turn or later.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createService, defineContract, procedure, type RunningServer } from "../server/mod.ts";
import { turnNow } from "../server/turn-clock.ts";
import { openRaw, type RawSocket } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve } from "./fixtures/serve.ts";

const contract = defineContract({
  spin: procedure({ input: v.number(), output: v.number() }),
  wait: procedure({ input: v.number(), output: v.number() }),
});

/** Busy-waits at least `ms` of wall time and returns how long it did. */
function spin(ms: number): number {
  const start = performance.now();
  let spent = 0;
  while ((spent = performance.now() - start) < ms) {
    // Bounded by the clock: nothing to do but wait.
  }
  return spent;
}

/** One procedure's latency histogram as `/metrics` renders it: the cumulative count per bound, the sum and the count. */
function histogram(text: string, method: string): { buckets: Map<string, number>; sum: number; count: number } {
  const buckets = new Map<string, number>();
  const bucket = new RegExp(`^tether_call_duration_seconds_bucket\\{method="${method}",le="([^"]+)"\\} (\\d+)$`, "gm");
  for (const [, le, n] of text.matchAll(bucket)) buckets.set(le!, Number(n));
  const sum = Number(text.match(new RegExp(`^tether_call_duration_seconds_sum\\{method="${method}"\\} (\\S+)$`, "m"))?.[1]);
  const count = Number(text.match(new RegExp(`^tether_call_duration_seconds_count\\{method="${method}"\\} (\\d+)$`, "m"))?.[1]);
  return { buckets, sum, count };
}

describe(`call latency histogram on ${RUNTIME}`, () => {
  let server: RunningServer;
  let ws: RawSocket;

  before(async () => {
    const service = createService(contract, {
      spin: (ms) => spin(ms),
      wait: async (ms) => {
        const start = performance.now();
        await new Promise((resolve) => setTimeout(resolve, ms));
        return performance.now() - start;
      },
    });
    server = await serve(service);
    ws = await openRaw(server.url);
  });
  after(async () => {
    await ws.close();
    await server.stop();
  });

  const metrics = async () => (await fetch(server.url.replace("ws://", "http://").replace(/\/ws$/, "/metrics"))).text();

  /** Calls `method` with `ms`; the handler's own measure of its time and the round trip seen by the client, in ms. */
  const call = async (id: number, method: string, ms: number) => {
    const sent = performance.now();
    ws.send({ type: "call", id, method, input: { json: ms } });
    const answer = await ws.next((f) => f.id === id);
    assert.equal(answer.type, "result");
    return { handler: answer.output.json as number, roundTrip: performance.now() - sent };
  };

  /**
   * Calls `method` once for 30 ms and checks its histogram: one call, timed to the millisecond (at
   * least the handler's own time, at most the client's round trip), over 25 ms so not in the buckets
   * up to 0.025 but in +Inf's.
   */
  const assertTimed = async (id: number, method: string) => {
    const { handler, roundTrip } = await call(id, method, 30);
    const h = histogram(await metrics(), method);
    assert.equal(h.count, 1);
    assert.ok(h.sum * 1000 >= Math.floor(handler) - 1, `sum ${h.sum} s for a handler that took ${handler} ms`);
    assert.ok(h.sum * 1000 <= Math.ceil(roundTrip) + 1, `sum ${h.sum} s over a round trip of ${roundTrip} ms`);
    assert.equal(h.buckets.get("0.025"), 0);
    assert.equal(h.buckets.get("+Inf"), 1);
  };

  it("a handler that answers in its frame's turn is timed, not counted as 0 s", () => assertTimed(1, "spin"));

  it("a handler that answers later is timed from its frame's turn to its answer", () => assertTimed(2, "wait"));

  it("turnNow() reads the clock once per turn: the same time within a turn, a new one in the next", async () => {
    const first = turnNow();
    // Until the clock moves on (bounded: a few ms).
    for (let i = 0; i < 1000 && performance.now() <= first; i++) spin(1);
    assert.ok(performance.now() > first, "the clock moved on");
    assert.equal(turnNow(), first, "the same turn sees its first read");
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.ok(turnNow() > first, "the next turn reads the clock again");
  });
});
