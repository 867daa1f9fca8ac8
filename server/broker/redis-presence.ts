/**
 * Presence shared through Redis: every joined connection is a field of the topic instance's hash
 * (`<prefix>r:<channel>`, in the channel's slot on a cluster), each change is also PUBLISHed on the channel, and every instance keeps a
 * heartbeat key (`<prefix>i:<id>`) with a TTL. Other instances feed those changes into their own
 * presence tracker; when an instance's heartbeat expires (it was killed), the others drop its
 * members and announce them as leaves.
 * @module
 */
import type { PresenceChange, RemotePresence, SharedPresence } from "./broker.ts";
import type { RedisPort } from "./redis-port.ts";

/** A change as it travels: with the instance that made it. */
type WireChange = PresenceChange & { instance: string };

/** Milliseconds a presence hash outlives its last change (members of dead instances are swept sooner). */
const HASH_TTL = 86_400_000;

/** The Redis side of presence for one instance. */
export class RedisPresence implements SharedPresence {
  /** This instance's id in presence entries and its heartbeat key. */
  readonly instance = crypto.randomUUID();
  /** Receives other instances' changes. */
  onRemote: RemotePresence = () => {};
  /** Entries of other instances fed into local presence: channel -> connection id -> change. */
  private readonly remote = new Map<string, Map<string, WireChange>>();
  /** This instance's own members, to announce again after Redis lost its data: channel:connection -> change. */
  private readonly local = new Map<string, PresenceChange>();
  private timer: ReturnType<typeof setInterval> | undefined;

  /**
   * @param redis the broker's connections
   * @param prefix key prefix
   * @param ttl milliseconds an instance's heartbeat lives; it is renewed every third of it
   * @param names a channel's pub/sub channel and presence hash
   */
  constructor(
    private readonly redis: RedisPort,
    private readonly prefix: string,
    private readonly ttl: number,
    private readonly names: { channel: (channel: string) => string; hash: (channel: string) => string },
  ) {}

  /** Starts the heartbeat and the sweep of dead instances (one timer). */
  start(): void {
    const beat = () => {
      this.redis.setPx(`${this.prefix}i:${this.instance}`, "1", this.ttl).catch(() => {});
      this.sweep().catch(() => {});
    };
    beat();
    this.timer = setInterval(beat, Math.max(50, Math.floor(this.ttl / 3)));
  }

  async announce(change: PresenceChange): Promise<void> {
    if (change.join) this.local.set(`${change.channel}\n${change.connectionId}`, change);
    else this.local.delete(`${change.channel}\n${change.connectionId}`);
    const wire = JSON.stringify({ ...change, instance: this.instance } satisfies WireChange);
    const hash = this.names.hash(change.channel);
    await this.redis.hashAndPublish(hash, change.connectionId, change.join ? wire : undefined, HASH_TTL, this.names.channel(change.channel), `{"pr":${wire}}`);
  }

  /** After a reconnect: renews the heartbeat and announces every local member again (a restarted Redis is empty). */
  async reannounce(): Promise<void> {
    await this.redis.setPx(`${this.prefix}i:${this.instance}`, "1", this.ttl);
    await Promise.all([...this.local.values()].map((change) => this.announce(change)));
  }

  /** A change that arrived on pub/sub; this instance's own are already in its tracker. */
  receive(change: WireChange): void {
    if (change.instance !== this.instance) this.apply(change);
  }

  /** Feeds the channel's current members on other (live) instances into local presence. */
  async load(channel: string): Promise<void> {
    const entries = Object.values(await this.redis.hGetAll(this.names.hash(channel))).map((w) => JSON.parse(w) as WireChange);
    const others = entries.filter((e) => e.instance !== this.instance);
    const alive = await this.alive(new Set(others.map((e) => e.instance)));
    for (const entry of others) {
      if (alive.has(entry.instance)) this.apply(entry);
      else await this.redis.hDel(this.names.hash(channel), entry.connectionId);
    }
  }

  /** Drops other instances' members of a channel this instance no longer listens to. */
  forget(channel: string): void {
    const entries = this.remote.get(channel);
    if (entries === undefined) return;
    this.remote.delete(channel);
    for (const entry of entries.values()) this.onRemote({ ...entry, join: false });
  }

  /** Stops the heartbeat and removes its key, so that other instances drop this one's members soon. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const channel of [...this.remote.keys()]) this.forget(channel);
    await this.redis.del(`${this.prefix}i:${this.instance}`).catch(() => {});
  }

  private apply(change: WireChange): void {
    let entries = this.remote.get(change.channel);
    if (change.join) {
      if (entries === undefined) this.remote.set(change.channel, (entries = new Map()));
      entries.set(change.connectionId, change);
    } else if (entries === undefined || !entries.delete(change.connectionId)) {
      return;
    } else if (entries.size === 0) {
      this.remote.delete(change.channel);
    }
    this.onRemote(change);
  }

  /** Which of these instances still have a heartbeat. */
  private async alive(instances: Set<string>): Promise<Set<string>> {
    const ids = [...instances];
    if (ids.length === 0) return new Set();
    // One GET per instance, not an MGET: on a cluster the heartbeat keys live in different slots.
    const found = await Promise.all(ids.map((id) => this.redis.get(`${this.prefix}i:${id}`)));
    return new Set(ids.filter((_, i) => found[i] !== null));
  }

  /** Announces every member of an instance whose heartbeat expired as a leave, and removes it from Redis. */
  private async sweep(): Promise<void> {
    const seen = new Set<string>();
    for (const entries of this.remote.values()) for (const e of entries.values()) seen.add(e.instance);
    const alive = await this.alive(seen);
    for (const entries of [...this.remote.values()]) {
      for (const entry of [...entries.values()]) {
        if (alive.has(entry.instance)) continue;
        this.apply({ ...entry, join: false });
        await this.redis.hDel(this.names.hash(entry.channel), entry.connectionId).catch(() => {});
      }
    }
  }
}
