/**
 * Keeps an instance's view of each followed channel gap-free: messages from a lossy transport
 * (Redis pub/sub) are delivered in offset order, once; a gap is filled from history; what cannot be
 * filled, or an epoch change, resets the channel so its subscribers resubscribe.
 * @module
 */
import type { BrokerMessage, StreamPosition } from "./broker.ts";

/** What the follower needs from its broker. */
export interface FollowerIO {
  /** Hands a message, in order, to local delivery. */
  deliver(channel: string, message: BrokerMessage): void;
  /** Tells local subscribers that messages were lost: they must resubscribe. */
  reset(channel: string): void;
  /** The channel's position and the kept messages after offset `after`, with their offsets. */
  read(channel: string, after: number): Promise<{ position: StreamPosition; messages: BrokerMessage[] }>;
}

/** One arrival: a message (epoch and offset absent for targeted ones) or a probe after a reconnect. */
type Arrival = { message: BrokerMessage; epoch: string | undefined; offset: number | undefined } | { probe: true };

interface Followed {
  epoch: string;
  offset: number;
  /** True while the start position is unknown or a read is running: arrivals wait in `pending`. */
  busy: boolean;
  pending: Arrival[];
}

/** The per-channel ordering and gap filling of the Redis broker. */
export class StreamFollower {
  private readonly channels = new Map<string, Followed>();

  constructor(private readonly io: FollowerIO) {}

  /** Number of followed channels. */
  get size(): number {
    return this.channels.size;
  }

  /** Starts following a channel; arrivals are held until `started` gives the starting position. */
  follow(channel: string): void {
    if (!this.channels.has(channel)) this.channels.set(channel, { epoch: "", offset: 0, busy: true, pending: [] });
  }

  /** Sets the position a channel's messages continue from, then delivers what arrived meanwhile. */
  started(channel: string, position: StreamPosition): void {
    const state = this.channels.get(channel);
    if (state === undefined || state.epoch !== "") return;
    state.epoch = position.epoch;
    state.offset = position.offset;
    void this.drain(channel, state);
  }

  /** Stops following a channel. */
  forget(channel: string): void {
    this.channels.delete(channel);
  }

  /** Forgets every channel. */
  clear(): void {
    this.channels.clear();
  }

  /** Takes one message from the transport. */
  receive(channel: string, message: BrokerMessage, epoch: string | undefined, offset: number | undefined): void {
    const state = this.channels.get(channel);
    if (state === undefined) return;
    if (offset !== undefined) message.offset = offset;
    state.pending.push({ message, epoch, offset });
    if (!state.busy) void this.drain(channel, state);
  }

  /** After the transport reconnected: checks every channel for messages published while it was down. */
  catchUpAll(): void {
    for (const [channel, state] of this.channels) {
      state.pending.push({ probe: true });
      if (!state.busy) void this.drain(channel, state);
    }
  }

  private async drain(channel: string, state: Followed): Promise<void> {
    state.busy = true;
    try {
      while (state.pending.length > 0 && this.channels.get(channel) === state) {
        const arrival = state.pending.shift()!;
        if ("probe" in arrival) {
          await this.fill(channel, state, undefined);
          continue;
        }
        const { message, epoch, offset } = arrival;
        if (epoch === undefined || offset === undefined) {
          this.io.deliver(channel, message);
          continue;
        }
        if (epoch !== state.epoch) {
          // Redis lost this channel's data (restart, flush, expiry): nothing before this message can be trusted.
          this.io.reset(channel);
          state.epoch = epoch;
          state.offset = 0;
        }
        if (offset <= state.offset) continue;
        if (offset > state.offset + 1) await this.fill(channel, state, offset - 1);
        if (this.channels.get(channel) !== state) return;
        if (offset <= state.offset) continue;
        state.offset = offset;
        this.io.deliver(channel, message);
      }
    } finally {
      state.busy = false;
    }
  }

  /** Delivers kept messages up to `upTo` (default: the current offset); resets the channel when it cannot. */
  private async fill(channel: string, state: Followed, upTo: number | undefined): Promise<void> {
    let read: Awaited<ReturnType<FollowerIO["read"]>>;
    try {
      read = await this.io.read(channel, state.offset);
    } catch {
      // Redis is unreachable again; the next reconnect probes once more.
      return;
    }
    if (this.channels.get(channel) !== state) return;
    const target = upTo ?? read.position.offset;
    const sameEpoch = read.position.epoch === state.epoch;
    if (sameEpoch) {
      for (const message of read.messages) {
        if (message.offset !== state.offset + 1 || message.offset > target) break;
        state.offset = message.offset;
        this.io.deliver(channel, message);
      }
      if (state.offset >= target) return;
    }
    this.io.reset(channel);
    if (sameEpoch) state.offset = target;
    else ({ epoch: state.epoch, offset: state.offset } = read.position);
  }
}
