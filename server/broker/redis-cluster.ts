/**
 * The Redis side of `service.cluster`: every instance SUBSCRIBEs to one request channel
 * (`<prefix>c`) and to a reply channel of its own (`<prefix>c:<instance>`). A request is PUBLISHed
 * on the request channel; PUBLISH answers how many instances received it, so the asker knows how
 * many answers to wait for (a killed instance's subscription is gone with its connection; a stalled
 * one is counted and then missing). Each instance answers on the asker's reply channel. On a Redis
 * Cluster these channels are sharded: every instance subscribes to the request channel on the one
 * master that owns it, so SPUBLISH's count is still the number of instances.
 * @module
 */
import type { ClusterAnswers, ClusterRelay } from "./broker.ts";
import type { RedisPort } from "./redis-port.ts";

/** A request as it travels. */
interface WireRequest {
  id: number;
  from: string;
  q: unknown;
}

/** An answer as it travels. */
interface WireAnswer {
  id: number;
  a: unknown;
}

interface Pending {
  /** Answers expected, once PUBLISH said how many instances received the request (undefined until then). */
  expected: number | undefined;
  answers: unknown[];
  timer: ReturnType<typeof setTimeout>;
  done: (result: ClusterAnswers) => void;
  fail: (error: Error) => void;
}

/** The cluster relay of one instance, with `close()` for the broker's shutdown. */
export interface RedisClusterRelay extends ClusterRelay {
  /** Stops listening; pending requests settle with the answers they have. */
  close(): Promise<void>;
}

/**
 * Creates the relay of one instance.
 * @param redis the broker's connections
 * @param prefix the broker's key and channel prefix
 * @param instance this instance's id (its presence heartbeat's)
 * @param timeout milliseconds a request waits for the other instances' answers
 */
export function redisCluster(redis: RedisPort, prefix: string, instance: string, timeout: number): RedisClusterRelay {
  const requests = `${prefix}c`;
  const replies = (id: string) => `${prefix}c:${id}`;
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let listening: Promise<void> | undefined;

  const settle = (id: number) => {
    const p = pending.get(id);
    if (p === undefined) return;
    pending.delete(id);
    clearTimeout(p.timer);
    // Redis never confirmed the PUBLISH: nobody can say how many instances it reached.
    if (p.expected === undefined) p.fail(new Error(`Cannot reach the other instances: Redis did not take the request within ${timeout} ms`));
    else p.done({ answers: p.answers, missing: Math.max(0, p.expected - p.answers.length) });
  };
  const check = (id: number) => {
    const p = pending.get(id);
    if (p !== undefined && p.expected !== undefined && p.answers.length >= p.expected) settle(id);
  };

  const onAnswer = (text: string) => {
    const { id, a } = JSON.parse(text) as WireAnswer;
    const p = pending.get(id);
    if (p === undefined) return;
    p.answers.push(a);
    check(id);
  };

  return {
    listen(answer) {
      listening ??= (async () => {
        await redis.subscribe(replies(instance), onAnswer);
        await redis.subscribe(requests, (text) => {
          const { id, from, q } = JSON.parse(text) as WireRequest;
          // This instance answers its own requests locally.
          if (from === instance) return;
          let a: unknown;
          try {
            a = answer(q);
          } catch {
            a = null;
          }
          redis.publish(replies(from), JSON.stringify({ id, a } satisfies WireAnswer)).catch(() => {});
        });
      })();
      return listening;
    },
    async ask(q) {
      // Until this instance's own subscription is in place, PUBLISH's count would not include it.
      await listening;
      const id = ++nextId;
      const result = new Promise<ClusterAnswers>((done, fail) => {
        pending.set(id, { expected: undefined, answers: [], timer: setTimeout(() => settle(id), timeout), done, fail });
      });
      // Returned only after the PUBLISH: a timeout that fails it sooner is not an unhandled rejection meanwhile.
      result.catch(() => {});
      try {
        const received = await redis.publish(requests, JSON.stringify({ id, from: instance, q } satisfies WireRequest));
        const p = pending.get(id);
        // Every instance that received it answers but this one.
        if (p !== undefined) p.expected = Math.max(0, received - 1);
        check(id);
      } catch (error) {
        clearTimeout(pending.get(id)?.timer);
        pending.delete(id);
        throw new Error(`Cannot reach the other instances: ${String(error)}`);
      }
      return result;
    },
    async close() {
      for (const id of [...pending.keys()]) settle(id);
      if (listening === undefined) return;
      await Promise.allSettled([redis.unsubscribe(requests), redis.unsubscribe(replies(instance))]);
    },
  };
}
