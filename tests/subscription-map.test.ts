/**
 * A connection's subscriptions (server/subscription-map.ts) behave as a Map: over arbitrary runs of
 * set, delete and get on a few channels, size, lookups and iteration order match a real Map's after
 * every step, through the change from one subscription held in fields to a Map and back.
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Subscription, SubscriptionMap } from "../server/subscription-map.ts";

/** Runs per property: bounded so the suite stays quick on a busy machine. */
const RUNS = 300;

const CHANNELS = ["feed:", 'rooms.messages:{"room":"a"}', 'rooms.messages:{"room":"b"}', "news:"];

const subscription = (n: number): Subscription => ({ topic: "t", params: n, held: null, presenceKey: undefined, epoch: "e", offset: n });

const step = fc.oneof(
  fc.record({ op: fc.constant("set" as const), channel: fc.constantFrom(...CHANNELS), n: fc.nat(100) }),
  fc.record({ op: fc.constant("delete" as const), channel: fc.constantFrom(...CHANNELS) }),
);

describe("SubscriptionMap", () => {
  it("matches a Map after every set and delete, in size, lookups and iteration order", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const map = new SubscriptionMap();
        const model = new Map<string, Subscription>();
        for (const s of steps) {
          if (s.op === "set") {
            const sub = subscription(s.n);
            assert.equal(map.set(s.channel, sub), map);
            model.set(s.channel, sub);
          } else {
            assert.equal(map.delete(s.channel), model.delete(s.channel));
          }
          assert.equal(map.count(), model.size);
          for (const channel of CHANNELS) {
            assert.equal(map.get(channel), model.get(channel));
            assert.equal(map.has(channel), model.has(channel));
          }
          assert.deepEqual([...map.keys()], [...model.keys()]);
          assert.deepEqual([...map.values()], [...model.values()]);
          assert.deepEqual([...map], [...model]);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("keeps the order of insertion when it goes back to one subscription and grows again", () => {
    const map = new SubscriptionMap();
    map.set("a:", subscription(1)).set("b:", subscription(2)).set("c:", subscription(3));
    map.delete("a:");
    map.delete("c:");
    map.set("d:", subscription(4));
    assert.deepEqual([...map.keys()], ["b:", "d:"]);
  });
});
