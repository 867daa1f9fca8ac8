/**
 * Presence (as Phoenix Presence): who is in a topic instance, one metadata entry per connection,
 * with join/leave diffs batched into one frame per instance per window.
 * @module
 */
import { encode, type Payload } from "../shared/codec.ts";
import type { PresenceFrame, PresenceMetas } from "../shared/protocol.ts";
import type { PresenceChange } from "./broker/broker.ts";

type Members = Map<string, Map<string, Payload>>;

interface Instance {
  topic: string;
  key: string;
  countsOnly: boolean;
  members: Members;
  joins: Members;
  leaves: Members;
  lastCount: number;
}

/** Tracks presence per channel and flushes diffs to subscribers on one shared timer. */
export class PresenceTracker {
  private readonly instances = new Map<string, Instance>();
  private readonly dirty = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param windowMs how long diffs are gathered before one frame goes out per instance
   * @param broadcast sends one serialized frame to every subscriber of a channel
   */
  constructor(
    private readonly windowMs: number,
    private readonly broadcast: (channel: string, frame: string) => void,
  ) {}

  /** Applies a join or leave, made on this instance or announced by another (Redis broker). */
  apply(change: PresenceChange): void {
    if (!change.join) return this.untrack(change.channel, change.member, change.connectionId);
    const { channel, topic, key, countsOnly, member, connectionId } = change;
    this.track(channel, topic, key, countsOnly, member, connectionId, change.meta ?? encode(undefined));
  }

  /** Adds one connection of a member to a channel's presence. */
  track(channel: string, topic: string, key: string, countsOnly: boolean, member: string, connId: string, meta: Payload): void {
    let inst = this.instances.get(channel);
    if (inst === undefined) {
      inst = { topic, key, countsOnly, members: new Map(), joins: new Map(), leaves: new Map(), lastCount: 0 };
      this.instances.set(channel, inst);
    }
    put(inst.members, member, connId, meta);
    const left = inst.leaves.get(member)?.get(connId);
    // Back within one window: nothing to announce, unless it came back with other metadata (then a leave and a join).
    if (left === undefined || JSON.stringify(left) !== JSON.stringify(meta)) put(inst.joins, member, connId, meta);
    else take(inst.leaves, member, connId);
    this.markDirty(channel);
  }

  /** Removes one connection of a member; the member leaves when their last connection does. */
  untrack(channel: string, member: string, connId: string): void {
    const inst = this.instances.get(channel);
    const meta = inst?.members.get(member)?.get(connId);
    if (inst === undefined || meta === undefined) return;
    take(inst.members, member, connId);
    // A leave in the window of its own join cancels it; a second leave of one connection is kept with its first metadata.
    if (!take(inst.joins, member, connId) && inst.leaves.get(member)?.has(connId) !== true) put(inst.leaves, member, connId, meta);
    this.markDirty(channel);
  }

  /**
   * The full presence frame of a channel for a new subscriber: the presence as of the last diff sent,
   * so the next diff (which the new subscriber receives too, its own join included) applies on top of
   * it without repeating an entry.
   */
  snapshot(channel: string): PresenceFrame | undefined {
    const inst = this.instances.get(channel);
    if (inst === undefined) return undefined;
    const announced = announcedMembers(inst);
    const frame: PresenceFrame = { type: "presence", topic: inst.topic, key: inst.key, count: announced.size };
    if (!inst.countsOnly) frame.state = toRecord(announced);
    return frame;
  }

  /** Members present in a channel, each with one metadata payload per connection. */
  list(channel: string): Record<string, PresenceMetas> {
    const inst = this.instances.get(channel);
    return inst === undefined ? {} : toRecord(inst.members);
  }

  /** Number of channels with presence state (0 when everyone has left and diffs are flushed). */
  get size(): number {
    return this.instances.size;
  }

  /** Sends every pending diff now and stops the timer. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const channel of this.dirty) {
      const inst = this.instances.get(channel);
      if (inst === undefined) continue;
      const count = inst.members.size;
      if (inst.countsOnly) {
        if (count !== inst.lastCount) this.broadcast(channel, frameText(inst, { count }));
      } else if (inst.joins.size > 0 || inst.leaves.size > 0) {
        this.broadcast(channel, frameText(inst, { joins: toRecord(inst.joins), leaves: toRecord(inst.leaves), count }));
      }
      inst.lastCount = count;
      inst.joins.clear();
      inst.leaves.clear();
      if (count === 0) this.instances.delete(channel);
    }
    this.dirty.clear();
  }

  /** Stops the timer without sending (service shutdown). */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty.clear();
  }

  private markDirty(channel: string): void {
    this.dirty.add(channel);
    this.timer ??= setTimeout(() => this.flush(), this.windowMs);
  }
}

function frameText(inst: Instance, body: Omit<PresenceFrame, "type" | "topic" | "key">): string {
  return JSON.stringify({ type: "presence", topic: inst.topic, key: inst.key, ...body });
}

function put(members: Members, member: string, connId: string, meta: Payload): void {
  let metas = members.get(member);
  if (metas === undefined) members.set(member, (metas = new Map()));
  metas.set(connId, meta);
}

function take(members: Members, member: string, connId: string): boolean {
  const metas = members.get(member);
  if (metas === undefined || !metas.delete(connId)) return false;
  if (metas.size === 0) members.delete(member);
  return true;
}

/** The members as the last diff left them: today's members without the pending joins, with the pending leaves. */
function announcedMembers(inst: Instance): Members {
  const announced: Members = new Map();
  for (const [member, metas] of inst.members) {
    for (const [connId, meta] of metas) if (inst.joins.get(member)?.has(connId) !== true) put(announced, member, connId, meta);
  }
  for (const [member, metas] of inst.leaves) for (const [connId, meta] of metas) put(announced, member, connId, meta);
  return announced;
}

function toRecord(members: Members): Record<string, PresenceMetas> {
  // fromEntries defines own properties, so a member named "__proto__" cannot touch a prototype.
  return Object.fromEntries([...members].map(([member, metas]) => [member, Object.fromEntries(metas)]));
}
