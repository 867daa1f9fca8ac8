/**
 * A resubscribe the broker cannot take keeps the subscription: the server closes the connection
 * with 1013 instead of answering an error that would end it, and the client resubscribes later with
 * the same `since`. Found in tests/redis-link.test.ts: a stream reset sent a subscriber back while its
 * instance's Redis link was stalled, the resubscribe failed, and every later message was lost in
 * silence. Here the memory broker, wrapped so that its `recover` fails on demand, stands in for Redis.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { type Client, createClient } from "../client/mod.ts";
import type { Broker, Reset } from "../server/broker/broker.ts";
import { createMemoryBroker } from "../server/broker/memory.ts";
import { createService, defineContract, procedure, type RunningServer, topic } from "../server/mod.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";

const contract = defineContract({
  tape: topic({ message: v.object({ n: v.number() }), history: { size: 1000 } }),
  record: procedure({ input: v.object({ n: v.number() }) }),
});

/** The memory broker, with a `recover` that fails while `failing` is set, and a handle on the service's reset of its channels. */
function outageBroker() {
  const inner = createMemoryBroker();
  const state = { failing: false, failedRecoveries: 0, reset: undefined as Reset | undefined, channels: new Set<string>() };
  const broker: Broker = {
    ...inner,
    start(deliver, reset, remotePresence, logger) {
      state.reset = reset;
      return inner.start(deliver, reset, remotePresence, logger);
    },
    publish: (channel, message, history) => inner.publish(channel, message, history),
    listen: (channel) => {
      state.channels.add(channel);
      return inner.listen(channel);
    },
    unlisten: (channel) => inner.unlisten(channel),
    position: (channel) => inner.position(channel),
    recover(channel, since) {
      if (!state.failing) return inner.recover(channel, since);
      state.failedRecoveries++;
      throw new Error("the broker is unreachable");
    },
    healthy: () => !state.failing,
    close: () => inner.close(),
  };
  return { broker, state };
}

describe(`A resubscribe during a broker outage, on ${RUNTIME}`, () => {
  const { broker, state } = outageBroker();
  let server: RunningServer;
  let publisher: Client<typeof contract>;
  let subscriber: Client<typeof contract>;

  before(async () => {
    const service = createService(contract, {
      record: async ({ n }, ctx) => await ctx.publish("tape", undefined, { n }),
    }, { broker });
    server = await serve(service);
    publisher = createClient<typeof contract>(server.url);
    subscriber = createClient<typeof contract>(server.url, { reconnect: { min: 20, max: 200 } });
  });
  after(async () => {
    publisher.close();
    subscriber.close();
    await server.stop();
  });

  it("does not end the subscription: the client resubscribes after the outage and gets every message", async () => {
    const got: number[] = [];
    const errors: string[] = [];
    const subscribed: boolean[] = [];
    const sub = subscriber.api.tape.subscribe(undefined, {
      onData: ({ n }) => void got.push(n),
      onSubscribed: ({ recovered }) => void subscribed.push(recovered),
      onError: (error) => void errors.push(error.message),
    });
    await sub.ready;
    for (let n = 1; n <= 5; n++) await publisher.api.record({ n });
    await until(() => got.length === 5, 10_000, "the first 5 messages");

    // The broker cannot recover; a stream reset sends the subscriber back to resubscribe.
    state.failing = true;
    for (const channel of state.channels) state.reset!(channel);
    await until(() => state.failedRecoveries >= 1, 15_000, "a resubscribe that the broker could not take");
    for (let n = 6; n <= 10; n++) await publisher.api.record({ n });
    state.failing = false;

    await until(() => got.length === 10 || errors.length > 0, 20_000, "the 5 messages published during the outage");
    assert.deepEqual(errors, [], "the subscription ended");
    assert.deepEqual(got, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // The resubscribe that went through recovered from history: nothing to refetch.
    assert.equal(subscribed.at(-1), true);
  });
});
