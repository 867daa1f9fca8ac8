/**
 * A connection's live subscriptions by channel, with a Map's interface (but `count()` for its size)
 * and a Map only when it holds two or more. Most connections subscribe to one topic instance, and on Bun a Map holding one entry
 * costs about 270 bytes of JS heap (its hash table) against 32 for this object (bench/: memory per
 * idle subscribed connection).
 * @module
 */
import type { WireFrame } from "../shared/binary-frame.ts";

/** One live subscription of a connection to a topic instance. */
export interface Subscription {
  /** Dotted topic name. Its canonical params key is the rest of its channel ({@link keyOf}): six fields, not seven, keep it in Bun's 64-byte size class. */
  topic: string;
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

/** The canonical params key of a subscription, from its channel (`topic:key`, see topics.ts `channelOf`). */
export function keyOf(sub: Subscription, channel: string): string {
  return channel.slice(sub.topic.length + 1);
}

/** Subscriptions by channel (`topic:key`), in the order they were added, like a Map. */
export class SubscriptionMap {
  /** The channel of the only subscription, while there is at most one. */
  #channel: string | undefined;
  /**
   * The only subscription, or every subscription once there are two or more (a Map): one field, not
   * two, keeps this object in Bun's 32-byte size class rather than the 48-byte one.
   */
  #held: Subscription | Map<string, Subscription> | undefined;

  /**
   * Number of subscriptions. A method, not a Map's `size` accessor: JSC gives each object of a class one
   * more inline slot per accessor on its prototype (48 bytes here rather than 32).
   */
  count(): number {
    const held = this.#held;
    return held instanceof Map ? held.size : held === undefined ? 0 : 1;
  }

  /** The subscription to a channel, if held. */
  get(channel: string): Subscription | undefined {
    const held = this.#held;
    if (held instanceof Map) return held.get(channel);
    return channel === this.#channel ? held : undefined;
  }

  /** Whether a channel's subscription is held. */
  has(channel: string): boolean {
    return this.get(channel) !== undefined;
  }

  /** Adds or replaces the subscription to a channel. */
  set(channel: string, sub: Subscription): this {
    const held = this.#held;
    if (held instanceof Map) held.set(channel, sub);
    else if (held === undefined || channel === this.#channel) (this.#channel = channel, this.#held = sub);
    else {
      this.#held = new Map([[this.#channel!, held], [channel, sub]]);
      this.#channel = undefined;
    }
    return this;
  }

  /** Removes the subscription to a channel; false when none was held. */
  delete(channel: string): boolean {
    const held = this.#held;
    if (!(held instanceof Map)) {
      if (held === undefined || channel !== this.#channel) return false;
      this.#channel = this.#held = undefined;
      return true;
    }
    if (!held.delete(channel)) return false;
    if (held.size === 1) {
      // Back to one: the Map goes, so a connection that subscribed to many and kept one holds no table.
      for (const [channel, sub] of held) (this.#channel = channel, this.#held = sub);
    }
    return true;
  }

  /** The channels held. */
  keys(): IterableIterator<string> {
    const held = this.#held;
    return held instanceof Map ? held.keys() : (held === undefined ? [] : [this.#channel!]).values();
  }

  /** The subscriptions held. */
  values(): IterableIterator<Subscription> {
    const held = this.#held;
    return held instanceof Map ? held.values() : (held === undefined ? [] : [held]).values();
  }

  /** `[channel, subscription]` pairs. */
  entries(): IterableIterator<[string, Subscription]> {
    const held = this.#held;
    return held instanceof Map ? held.entries() : (held === undefined ? [] : [[this.#channel!, held] as [string, Subscription]]).values();
  }

  [Symbol.iterator](): IterableIterator<[string, Subscription]> {
    return this.entries();
  }
}
