/**
 * A connection's live subscriptions by channel, with a Map's interface and a Map only when it holds
 * two or more. Most connections subscribe to one topic instance, and on Bun a Map holding one entry
 * costs about 270 bytes of JS heap (its hash table) against 48 for this object (bench/: memory per
 * idle subscribed connection).
 * @module
 */
import type { WireFrame } from "../shared/binary-frame.ts";

/** One live subscription of a connection to a topic instance. */
export interface Subscription {
  /** Dotted topic name. */
  topic: string;
  /** Canonical params key. */
  key: string;
  /** Validated params, as hooks receive them. */
  params: unknown;
  /** Frames held back while history is replayed (with their offsets, to drop replayed ones); null once live. */
  held: { offset: number | undefined; frame: WireFrame }[] | null;
  /** Presence member key, when this subscription is tracked. */
  presenceKey: string | undefined;
  /** Epoch announced in `subscribed`. */
  epoch: string;
  /** Last offset this subscription covers: announced in `subscribed`, or replayed or sent after it. */
  offset: number;
}

/** Subscriptions by channel (`topic:key`), in the order they were added, like a Map. */
export class SubscriptionMap {
  /** The channel of the only subscription, while there is at most one. */
  #channel: string | undefined;
  /** The only subscription, while there is at most one. */
  #only: Subscription | undefined;
  /** Every subscription, once there are two or more (then `#only` is unset). */
  #many: Map<string, Subscription> | undefined;

  /** Number of subscriptions. */
  get size(): number {
    return this.#many?.size ?? (this.#only === undefined ? 0 : 1);
  }

  /** The subscription to a channel, if held. */
  get(channel: string): Subscription | undefined {
    if (this.#many !== undefined) return this.#many.get(channel);
    return channel === this.#channel ? this.#only : undefined;
  }

  /** Whether a channel's subscription is held. */
  has(channel: string): boolean {
    return this.get(channel) !== undefined;
  }

  /** Adds or replaces the subscription to a channel. */
  set(channel: string, sub: Subscription): this {
    if (this.#many !== undefined) this.#many.set(channel, sub);
    else if (this.#only === undefined || channel === this.#channel) (this.#channel = channel, this.#only = sub);
    else {
      this.#many = new Map([[this.#channel!, this.#only], [channel, sub]]);
      this.#channel = this.#only = undefined;
    }
    return this;
  }

  /** Removes the subscription to a channel; false when none was held. */
  delete(channel: string): boolean {
    if (this.#many === undefined) {
      if (this.#only === undefined || channel !== this.#channel) return false;
      this.#channel = this.#only = undefined;
      return true;
    }
    if (!this.#many.delete(channel)) return false;
    if (this.#many.size === 1) {
      // Back to one: the Map goes, so a connection that subscribed to many and kept one holds no table.
      for (const [channel, sub] of this.#many) (this.#channel = channel, this.#only = sub);
      this.#many = undefined;
    }
    return true;
  }

  /** The channels held. */
  keys(): IterableIterator<string> {
    return this.#many?.keys() ?? (this.#only === undefined ? [] : [this.#channel!]).values();
  }

  /** The subscriptions held. */
  values(): IterableIterator<Subscription> {
    return this.#many?.values() ?? (this.#only === undefined ? [] : [this.#only]).values();
  }

  /** `[channel, subscription]` pairs. */
  entries(): IterableIterator<[string, Subscription]> {
    return this.#many?.entries() ?? (this.#only === undefined ? [] : [[this.#channel!, this.#only] as [string, Subscription]]).values();
  }

  [Symbol.iterator](): IterableIterator<[string, Subscription]> {
    return this.entries();
  }
}
