import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { BrokerMessage, StreamPosition } from "../server/broker/broker.ts";
import { StreamFollower } from "../server/broker/stream-follower.ts";
import { RUNTIME, until } from "./fixtures/serve.ts";

const EPOCH = "e1";
const message = (offset: number): BrokerMessage => ({ topic: "t", key: "{}", data: { json: offset }, offset });

/** A follower over a fake history: `up` says whether reads work; `kept` is the first offset history still has. */
function harness() {
  const delivered: number[] = [];
  const resets: string[] = [];
  const io = { up: true, kept: 1, head: 0, reads: 0 };
  const follower = new StreamFollower({
    deliver: (_channel, m) => delivered.push(m.offset!),
    reset: (_channel, reason) => resets.push(reason),
    read: (_channel, after): Promise<{ position: StreamPosition; messages: BrokerMessage[] }> => {
      io.reads++;
      if (!io.up) return Promise.reject(new Error("The client is offline"));
      const messages: BrokerMessage[] = [];
      for (let o = Math.max(after + 1, io.kept); o <= io.head; o++) messages.push(message(o));
      return Promise.resolve({ position: { epoch: EPOCH, offset: io.head }, messages });
    },
  });
  const publish = (offset: number) => {
    io.head = Math.max(io.head, offset);
    follower.receive("c", message(offset), EPOCH, offset);
  };
  return { follower, delivered, resets, io, publish };
}

describe(`the stream follower's gap handling on ${RUNTIME}`, () => {
  it("regression: a gap whose history cannot be read is held, not stepped over, and filled once reads work", async () => {
    const { follower, delivered, resets, io, publish } = harness();
    follower.follow("c");
    follower.started("c", { epoch: EPOCH, offset: 0 });
    publish(1);
    await until(() => delivered.length === 1, 2000, "offset 1");
    // Pub/sub is back but the command link is not: offsets 2-4 were missed, 5 arrives.
    io.up = false;
    io.head = 4;
    publish(5);
    publish(6);
    await until(() => io.reads >= 2, 3000, "a second read attempt");
    assert.deepEqual(delivered, [1], "nothing past the gap while it cannot be read");
    assert.deepEqual(resets, []);
    io.up = true;
    follower.catchUpAll();
    await until(() => delivered.length === 6, 3000, "offsets 2-6");
    assert.deepEqual(delivered, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(resets, []);
    follower.clear();
  });

  it("a gap that history no longer covers resets the channel, then delivery goes on", async () => {
    const { follower, delivered, resets, io, publish } = harness();
    follower.follow("c");
    follower.started("c", { epoch: EPOCH, offset: 0 });
    publish(1);
    io.up = false;
    io.head = 59;
    io.kept = 20;
    publish(60);
    await until(() => io.reads >= 1, 2000, "a read attempt");
    assert.deepEqual(delivered, [1]);
    io.up = true;
    await until(() => delivered.includes(60), 3000, "offset 60 after the retry");
    assert.equal(resets.length, 1);
    assert.deepEqual(delivered, [1, 60]);
    follower.clear();
  });

  it("arrivals held past the limit are dropped with a reset, and the channel starts again from the next read", async () => {
    const { follower, delivered, resets, io, publish } = harness();
    follower.follow("c");
    follower.started("c", { epoch: EPOCH, offset: 0 });
    io.up = false;
    io.kept = 10_000;
    for (let o = 2; o <= 10_010; o++) publish(o);
    assert.equal(resets.length, 1, "one reset when the limit was passed");
    io.up = true;
    follower.catchUpAll();
    // The next read finds the stream where it is now; what was dropped is covered by the resets.
    await until(() => resets.length === 2, 3000, "the reset of the re-anchoring read");
    publish(10_011);
    await until(() => delivered.length > 0, 3000, "the next message");
    assert.deepEqual(delivered, [10_011]);
    follower.clear();
  });
});
