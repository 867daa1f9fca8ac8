/**
 * Keeps an instance's view of each followed channel gap-free: messages from a lossy transport
 * (Redis pub/sub) are delivered in offset order, once; a gap is filled from history; what cannot be
 * filled, or an epoch change, resets the channel so its subscribers resubscribe. A gap whose history
 * cannot be read right now (the command link is down while pub/sub already delivers) is never
 * stepped over: the channel holds its arrivals and reads again.
 * @module
 */
import type { BrokerMessage, StreamPosition } from "./broker.ts";

/** What the follower needs from its broker. */
export interface FollowerIO {
  /** Hands a message, in order, to local delivery. */
  deliver(channel: string, message: BrokerMessage): void;
  /** Tells local subscribers that messages were lost: they must resubscribe. */
  reset(channel: string, reason: string): void;
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
  /** Set while a failed history read waits to be tried again. */
  retry: ReturnType<typeof setTimeout> | undefined;
}

/** Milliseconds before a failed history read is tried again. */
const RETRY_MS = 200;

/**
 * Arrivals a channel holds while its history cannot be read; past it they are dropped and the
 * channel is reset, so memory stays bounded through a long outage of the command link.
 */
const MAX_HELD = 10_000;

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
    if (!this.channels.has(channel)) this.channels.set(channel, { epoch: "", offset: 0, busy: true, pending: [], retry: undefined });
  }

  /** Sets the position a channel's messages continue from, then delivers what arrived meanwhile. */
  started(channel: string, position: StreamPosition): void {
    const state = this.channels.get(channel);
    if (state === undefined || state.epoch !== "") return;
    state.epoch = position.epoch;
    state.offset = position.offset;
    void this.drain(channel, state);
  }

  /** The last position delivered on a channel (where it started, before any); undefined until it started. */
  position(channel: string): StreamPosition | undefined {
    const state = this.channels.get(channel);
    return state === undefined || state.epoch === "" ? undefined : { epoch: state.epoch, offset: state.offset };
  }

  /** Stops following a channel. */
  forget(channel: string): void {
    clearTimeout(this.channels.get(channel)?.retry);
    this.channels.delete(channel);
  }

  /** Forgets every channel. */
  clear(): void {
    for (const state of this.channels.values()) clearTimeout(state.retry);
    this.channels.clear();
  }

  /** Takes one message from the transport. */
  receive(channel: string, message: BrokerMessage, epoch: string | undefined, offset: number | undefined): void {
    const state = this.channels.get(channel);
    if (state === undefined) return;
    if (offset !== undefined) message.offset = offset;
    if (state.pending.length >= MAX_HELD) {
      // History could not be read for a long time: drop what is held, reset, and start again from a probe.
      this.io.reset(channel, "messages held past the limit while history was unreadable");
      state.pending = [{ probe: true }];
      state.epoch = "";
      return;
    }
    state.pending.push({ message, epoch, offset });
    if (!state.busy) void this.drain(channel, state);
  }

  /** After the transport reconnected: checks every channel for messages published while it was down. */
  catchUpAll(): void {
    for (const [channel, state] of this.channels) {
      state.pending.push({ probe: true });
      if (state.retry !== undefined) {
        // A read failed while the link was down: try it now.
        clearTimeout(state.retry);
        state.retry = undefined;
        void this.drain(channel, state);
      } else if (!state.busy) {
        void this.drain(channel, state);
      }
    }
  }

  private async drain(channel: string, state: Followed): Promise<void> {
    state.busy = true;
    let held = false;
    try {
      while (state.pending.length > 0 && this.channels.get(channel) === state) {
        const arrival = state.pending[0]!;
        if ("probe" in arrival) {
          if (!(await this.fill(channel, state, undefined))) return void (held = this.holdFor(channel, state));
          // Unless the held arrivals were dropped meanwhile (MAX_HELD), the probe is still first.
          if (state.pending[0] === arrival) state.pending.shift();
          continue;
        }
        const { message, epoch, offset } = arrival;
        if (epoch === undefined || offset === undefined) {
          state.pending.shift();
          this.io.deliver(channel, message);
          continue;
        }
        if (epoch !== state.epoch && state.epoch !== "") {
          // Redis lost this channel's data (restart, flush, expiry): nothing before this message can be trusted.
          this.io.reset(channel, "the stream's epoch changed");
          state.epoch = epoch;
          state.offset = 0;
        }
        if (offset > state.offset + 1 || state.epoch === "") {
          // The arrival stays first in line until its gap is filled (or reported): a failed read never skips it.
          if (!(await this.fill(channel, state, offset - 1))) return void (held = this.holdFor(channel, state));
          if (this.channels.get(channel) !== state || state.pending[0] !== arrival) continue;
        }
        state.pending.shift();
        if (epoch !== state.epoch || offset <= state.offset) continue;
        state.offset = offset;
        this.io.deliver(channel, message);
      }
    } finally {
      if (!held) state.busy = false;
    }
  }

  /** Keeps the channel busy and reads again later; true (the channel stays busy). */
  private holdFor(channel: string, state: Followed): boolean {
    if (this.channels.get(channel) !== state) return false;
    state.retry = setTimeout(() => {
      state.retry = undefined;
      void this.drain(channel, state);
    }, RETRY_MS);
    return true;
  }

  /**
   * Delivers kept messages up to `upTo` (default: the current offset); resets the channel when
   * history no longer reaches back. False when history could not be read (nothing changed).
   */
  private async fill(channel: string, state: Followed, upTo: number | undefined): Promise<boolean> {
    let read: Awaited<ReturnType<FollowerIO["read"]>>;
    try {
      read = await this.io.read(channel, state.offset);
    } catch {
      return false;
    }
    if (this.channels.get(channel) !== state) return true;
    const target = upTo ?? read.position.offset;
    const sameEpoch = read.position.epoch === state.epoch;
    if (sameEpoch) {
      for (const message of read.messages) {
        if (message.offset !== state.offset + 1 || message.offset > target) break;
        state.offset = message.offset;
        this.io.deliver(channel, message);
      }
      if (state.offset >= target) return true;
    }
    this.io.reset(channel, sameEpoch ? "history no longer reaches back to the gap" : "the stream's epoch changed");
    if (sameEpoch) state.offset = target;
    else ({ epoch: state.epoch, offset: state.offset } = read.position);
    return true;
  }
}
