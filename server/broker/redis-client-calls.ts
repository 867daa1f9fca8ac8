/**
 * The Redis side of `service.client(id)` for a connection held by another instance: every instance
 * SUBSCRIBEs to one request channel (`<prefix>k`) and to a channel of its own (`<prefix>k:<instance>`).
 * A call is PUBLISHed on the request channel, whose count of receivers tells the asker how many
 * instances will answer; each one that does not hold the connection answers "absent" on the asker's
 * channel at once, the one that holds it runs the call and answers with the client's answer. A
 * cancel travels on the request channel too. The asker waits at most the call's timeout plus the
 * broker's `clusterTimeout` (a holder killed mid-call answers TIMEOUT, never a hang). On a Redis
 * Cluster the channels are sharded, and every instance subscribes to the request channel on the
 * same master, so the count of receivers is still the number of instances.
 * @module
 */
import type { ClientAnswer, ClientCallRelay, RelayedClientCall } from "./broker.ts";
import type { RedisPort } from "./redis-port.ts";

/** What travels on the request channel: a call, or the cancel of one. */
type WireRequest = { id: number; from: string; call: RelayedClientCall } | { id: number; from: string; cancel: true };

/** What travels back to the asker: "not here", or the holder's answer. */
type WireReply = { id: number; absent: true } | { id: number; answer: ClientAnswer };

/** One call this instance asked about and is waiting for. */
interface Pending {
  /** Instances that will answer, once PUBLISH said how many received the call (undefined until then). */
  expected: number | undefined;
  absent: number;
  done(answer: ClientAnswer | undefined): void;
}

/** The client-call relay of one instance, with `close()` for the broker's shutdown. */
export interface RedisClientCallRelay extends ClientCallRelay {
  /** Stops listening; calls still waiting answer DISCONNECTED, calls running for others are aborted. */
  close(): Promise<void>;
}

/**
 * Creates the relay of one instance.
 * @param redis the broker's connections (one node or a cluster)
 * @param prefix the broker's key and channel prefix
 * @param instance this instance's id
 * @param grace milliseconds waited beyond a call's timeout for the holder's answer (`clusterTimeout`)
 */
export function redisClientCalls(redis: RedisPort, prefix: string, instance: string, grace: number): RedisClientCallRelay {
  const requests = `${prefix}k`;
  const own = (id: string) => `${prefix}k:${id}`;
  const pending = new Map<number, Pending>();
  /** Calls this instance runs for other instances, by `from:id`, to abort on their cancel. */
  const running = new Map<string, AbortController>();
  let nextId = 0;
  let listening: Promise<void> | undefined;

  const reply = (to: string, message: WireReply) => void redis.publish(own(to), JSON.stringify(message)).catch(() => {});
  const check = (id: number) => {
    const p = pending.get(id);
    if (p !== undefined && p.expected !== undefined && p.absent >= p.expected) p.done(undefined);
  };

  const onReply = (text: string) => {
    const message = JSON.parse(text) as WireReply;
    const p = pending.get(message.id);
    if (p === undefined) return;
    if ("answer" in message) return p.done(message.answer);
    p.absent++;
    check(message.id);
  };

  return {
    listen(run) {
      listening ??= (async () => {
        await redis.subscribe(own(instance), onReply);
        await redis.subscribe(requests, (text) => {
          const request = JSON.parse(text) as WireRequest;
          if (request.from === instance) return;
          const key = `${request.from}:${request.id}`;
          if ("cancel" in request) return running.get(key)?.abort();
          const controller = new AbortController();
          const answer = run(request.call, controller.signal);
          if (answer === undefined) return reply(request.from, { id: request.id, absent: true });
          running.set(key, controller);
          answer.then((a) => {
            running.delete(key);
            reply(request.from, { id: request.id, answer: a });
          });
        });
      })();
      return listening;
    },
    async call(call, signal) {
      // Until this instance's own subscription is in place, PUBLISH's count would not include it.
      await listening;
      const id = ++nextId;
      const bound = call.timeout + grace;
      let onAbort = () => {};
      const result = new Promise<ClientAnswer | undefined>((resolve) => {
        const timer = setTimeout(() => finish({ ok: false, code: "TIMEOUT", message: `Client call "${call.method}" got no answer from the instance holding the connection within ${bound} ms` }), bound);
        const finish = (answer: ClientAnswer | undefined) => {
          if (!pending.delete(id)) return;
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          resolve(answer);
        };
        pending.set(id, { expected: undefined, absent: 0, done: finish });
        onAbort = () => {
          redis.publish(requests, JSON.stringify({ id, from: instance, cancel: true } satisfies WireRequest)).catch(() => {});
          finish({ ok: false, code: "CANCELLED", message: `Client call "${call.method}" cancelled by the server` });
        };
        signal?.addEventListener("abort", onAbort, { once: true });
      });
      try {
        const received = await redis.publish(requests, JSON.stringify({ id, from: instance, call } satisfies WireRequest));
        const p = pending.get(id);
        // Every instance that received it answers but this one.
        if (p !== undefined) p.expected = Math.max(0, received - 1);
        check(id);
      } catch (error) {
        pending.get(id)?.done({ ok: false, code: "INTERNAL", message: `Cannot reach the other instances: ${String(error)}` });
      }
      return result;
    },
    async close() {
      for (const p of [...pending.values()]) p.done({ ok: false, code: "DISCONNECTED", message: "The broker closed before the client answered" });
      for (const controller of running.values()) controller.abort();
      if (listening === undefined) return;
      await Promise.allSettled([redis.unsubscribe(requests), redis.unsubscribe(own(instance))]);
    },
  };
}
