/**
 * The Redis side of `service.cluster`, over the instance relay (instance-relay.ts) on channel
 * `<prefix>c`: a query travels as `{ id, from, q }`, each other instance answers `{ id, a }` on the
 * asker's reply channel (`<prefix>c:<instance>`), and the asker waits for as many answers as
 * PUBLISH reached instances (but itself), at most `timeout`; the ones still missing are counted.
 * @module
 */
import type { ClusterAnswers, ClusterRelay } from "./broker.ts";
import { createInstanceRelay, type RelayWaiter } from "./instance-relay.ts";
import type { RedisPort } from "./redis-port.ts";

/** The cluster relay of one instance, with `close()` for the broker's shutdown. */
export interface RedisClusterRelay extends ClusterRelay {
  /** Stops listening; pending requests settle with the answers they have. */
  close(): Promise<void>;
}

/** A query waiting for the other instances' answers. */
interface Pending extends RelayWaiter<{ a: unknown }> {
  answers: unknown[];
  timer: ReturnType<typeof setTimeout>;
  done: (result: ClusterAnswers) => void;
  fail: (error: Error) => void;
}

/**
 * Creates the relay of one instance.
 * @param redis the broker's connections
 * @param prefix the broker's key and channel prefix
 * @param instance this instance's id (its presence heartbeat's)
 * @param timeout milliseconds a request waits for the other instances' answers
 */
export function redisCluster(redis: RedisPort, prefix: string, instance: string, timeout: number): RedisClusterRelay {
  const relay = createInstanceRelay<{ q: unknown }, { a: unknown }, Pending>(redis, `${prefix}c`, instance);

  /** Settles a query with what it has (every answer, the timeout, or the broker closing). */
  const settle = (id: number) => {
    const p = relay.forget(id);
    if (p === undefined) return;
    clearTimeout(p.timer);
    // Redis never confirmed the PUBLISH: nobody can say how many instances it reached.
    if (p.expected === undefined) p.fail(new Error(`Cannot reach the other instances: Redis did not take the request within ${timeout} ms`));
    else p.done({ answers: p.answers, missing: Math.max(0, p.expected - p.answers.length) });
  };

  return {
    listen(answer) {
      return relay.listen(({ id, from, q }) => {
        let a: unknown;
        try {
          a = answer(q);
        } catch {
          a = null;
        }
        relay.reply(from, id, { a });
      });
    },
    async ask(q) {
      await relay.ready();
      let id = 0;
      const result = new Promise<ClusterAnswers>((done, fail) => {
        const p: Pending = {
          expected: undefined,
          counted: 0,
          answers: [],
          timer: setTimeout(() => settle(id), timeout),
          done,
          fail,
          reply: ({ a }) => void (p.counted = p.answers.push(a)),
          complete: () => settle(id),
        };
        id = relay.wait(p);
      });
      // Returned only after the PUBLISH: a timeout that fails it sooner is not an unhandled rejection meanwhile.
      result.catch(() => {});
      try {
        await relay.ask(id, { q });
      } catch (error) {
        clearTimeout(relay.forget(id)?.timer);
        throw new Error(`Cannot reach the other instances: ${String(error)}`);
      }
      return result;
    },
    async close() {
      for (const [id] of relay.waiting()) settle(id);
      await relay.close();
    },
  };
}
