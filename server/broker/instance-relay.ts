/**
 * One instance's request/reply relay over Redis pub/sub, the shape `service.cluster`
 * (redis-cluster.ts) and server-to-client calls (redis-client-calls.ts) share. Every instance
 * SUBSCRIBEs to one request channel (`<channel>`) and to a reply channel of its own
 * (`<channel>:<instance>`). A request is PUBLISHed on the request channel as `{ id, from, ...body }`;
 * PUBLISH answers how many instances received it, so the asker knows how many replies to wait for
 * (every receiver but itself; a killed instance's subscription is gone with its connection, a
 * stalled one is counted and then missing). Replies travel as `{ id, ...body }` on the asker's reply
 * channel. On a Redis Cluster these channels are sharded: every instance subscribes to the request
 * channel on the one master that owns it, so SPUBLISH's count is still the number of instances.
 * @module
 */
import type { RedisPort } from "./redis-port.ts";

/** A request as it travels: its id (the asker's), the asking instance, then the relay user's fields. */
export type RelayRequest<Q> = { id: number; from: string } & Q;

/** A reply as it travels: the request's id, then the relay user's fields. */
export type RelayReply<R> = { id: number } & R;

/** One request this instance asked and waits on. */
export interface RelayWaiter<R> {
  /** Replies expected: the instances PUBLISH reached but this one; undefined until PUBLISH answered. */
  expected: number | undefined;
  /** Replies counted towards `expected`; the relay calls `complete` once they match. */
  counted: number;
  /** A reply arrived (count it, or settle and `forget` the request). */
  reply(reply: RelayReply<R>): void;
  /** Every expected reply was counted: settle, and `forget` the request. */
  complete(): void;
}

/** The relay of one instance: requests out, replies back, pending requests by id. */
export interface InstanceRelay<Q extends object, R extends object, W extends RelayWaiter<R> = RelayWaiter<R>> {
  /** Subscribes (once) to this instance's reply channel, then to the request channel; other instances' requests go to `onRequest`. */
  listen(onRequest: (request: RelayRequest<Q>) => void): Promise<void>;
  /** Settles once the subscriptions are in place (until then PUBLISH's count would not include this instance). */
  ready(): Promise<void>;
  /** Registers a waiter; returns its request id. */
  wait(waiter: W): number;
  /** PUBLISHes request `id` and sets its waiter's `expected`; rejects when Redis did not take it (the waiter stays registered). */
  ask(id: number, body: Q): Promise<void>;
  /** PUBLISHes a request no one replies to (a cancel); a failure is ignored. */
  tell(id: number, body: Q): void;
  /** Sends a reply to request `id` of instance `to`; a failure is ignored (the asker's timeout covers it). */
  reply(to: string, id: number, body: R): void;
  /** Forgets request `id`; returns its waiter, undefined if it was settled already. */
  forget(id: number): W | undefined;
  /** The requests still waiting, with their ids. */
  waiting(): [id: number, waiter: W][];
  /** Stops listening (the waiters are left to the caller). */
  close(): Promise<void>;
}

/**
 * Creates the relay of one instance.
 * @param redis the broker's connections (one node or a cluster)
 * @param channel the request channel; the reply channels are `<channel>:<instance>`
 * @param instance this instance's id
 */
export function createInstanceRelay<Q extends object, R extends object, W extends RelayWaiter<R> = RelayWaiter<R>>(
  redis: RedisPort,
  channel: string,
  instance: string,
): InstanceRelay<Q, R, W> {
  const replies = (id: string) => `${channel}:${id}`;
  const pending = new Map<number, W>();
  let nextId = 0;
  let listening: Promise<void> | undefined;

  const check = (id: number) => {
    const w = pending.get(id);
    if (w !== undefined && w.expected !== undefined && w.counted >= w.expected) w.complete();
  };
  const onReply = (text: string) => {
    const message = JSON.parse(text) as RelayReply<R>;
    const w = pending.get(message.id);
    if (w === undefined) return;
    w.reply(message);
    check(message.id);
  };

  return {
    listen(onRequest) {
      listening ??= (async () => {
        await redis.subscribe(replies(instance), onReply);
        await redis.subscribe(channel, (text) => {
          const request = JSON.parse(text) as RelayRequest<Q>;
          // This instance answers its own requests locally.
          if (request.from !== instance) onRequest(request);
        });
      })();
      return listening;
    },
    ready: () => listening ?? Promise.resolve(),
    wait(waiter) {
      const id = ++nextId;
      pending.set(id, waiter);
      return id;
    },
    async ask(id, body) {
      const received = await redis.publish(channel, JSON.stringify({ id, from: instance, ...body }));
      const w = pending.get(id);
      // Every instance that received it replies but this one.
      if (w !== undefined) w.expected = Math.max(0, received - 1);
      check(id);
    },
    tell(id, body) {
      redis.publish(channel, JSON.stringify({ id, from: instance, ...body })).catch(() => {});
    },
    reply(to, id, body) {
      redis.publish(replies(to), JSON.stringify({ id, ...body })).catch(() => {});
    },
    forget(id) {
      const w = pending.get(id);
      pending.delete(id);
      return w;
    },
    waiting: () => [...pending],
    async close() {
      if (listening === undefined) return;
      await Promise.allSettled([redis.unsubscribe(channel), redis.unsubscribe(replies(instance))]);
    },
  };
}
