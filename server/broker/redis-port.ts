/**
 * The broker's connections to Redis behind one small surface, so that the broker, its presence,
 * session routing, cluster relay and idempotency outcomes run unchanged on one Redis node and on a
 * Redis Cluster.
 *
 * One node: a command connection and a pub/sub connection; channels are PUBLISH/SUBSCRIBE.
 * Cluster: node-redis's cluster client, with a command connection to every master and a pub/sub
 * connection to each master that owns a subscribed channel. Channels are sharded
 * (SPUBLISH/SSUBSCRIBE, Redis 7+): a message goes only to the master that owns its channel's slot
 * and from there to the instances subscribed on it, where plain pub/sub would copy every message to
 * every node. A topic instance's keys and channel carry the same hash tag (`{<channel>}`), so its Lua
 * scripts and its presence MULTI run within one slot.
 * @module
 */
import { createClient, createCluster } from "redis";
import type { LinkClient, WatchedConnection } from "./redis-watchdog.ts";
import { countTraffic, noteReply } from "./traffic-count.ts";

/** Receives a pub/sub message and the channel it came on. */
export type PubSubListener = (message: string, channel: string) => void;

/** One Redis node or a Redis Cluster, as the broker uses it. */
export interface RedisPort {
  /** Whether the connections commands need are ready (one node: both; a cluster: those to every master). */
  readonly isReady: boolean;
  /** The publish command a Lua script runs: PUBLISH, or SPUBLISH on a cluster. */
  readonly publishCommand: "PUBLISH" | "SPUBLISH";
  /** The connections to watch, named for logs, with what moves on them; on a cluster they follow its topology. */
  connections(): WatchedConnection[];
  /** Calls `fn` each time a connection becomes ready, after a reconnect too. */
  onReady(fn: () => void): void;
  /** A topic instance's part of its key and channel names: `{<channel>}` on a cluster, so that they share one slot. */
  tag(channel: string): string;
  /** Publishes; answers how many subscribers got it (on a cluster: those on the channel's master). */
  publish(channel: string, message: string): Promise<number>;
  /** SUBSCRIBE (SSUBSCRIBE on a cluster, on the channel's master). */
  subscribe(channel: string, listener: PubSubListener): Promise<void>;
  /** Removes the listener (every listener when none is given) and unsubscribes once none is left. */
  unsubscribe(channel: string, listener?: PubSubListener): Promise<void>;
  /** Loads a Lua script; answers its SHA1 for `evalSha`. */
  scriptLoad(script: string): Promise<string>;
  /** Runs a Lua script (on a cluster: on the master of `keys[0]`, which all keys share a slot with). */
  eval(script: string, keys: string[], args: string[]): Promise<unknown>;
  /** Runs a loaded script; fails with NOSCRIPT when this Redis does not know it. */
  evalSha(sha: string, keys: string[], args: string[]): Promise<unknown>;
  /** SET with a time to live in milliseconds. */
  setPx(key: string, value: string, ms: number): Promise<unknown>;
  /** GET. */
  get(key: string): Promise<string | null>;
  /** DEL of one key. */
  del(key: string): Promise<unknown>;
  /** HGETALL. */
  hGetAll(key: string): Promise<Record<string, string>>;
  /** HDEL of one field. */
  hDel(key: string, field: string): Promise<unknown>;
  /** In one MULTI: sets a hash field (deletes it when `value` is undefined), renews the hash's TTL, publishes `message`. */
  hashAndPublish(hash: string, field: string, value: string | undefined, ttl: number, channel: string, message: string): Promise<unknown>;
  /** Opens every connection (a cluster: discovers its masters first). */
  connect(): Promise<void>;
  /** Closes every connection once its pending commands are answered. */
  close(): Promise<void>;
  /** Closes every connection at once, failing what is pending. */
  destroy(): void;
}

/** Connection settings shared by every connection. */
export interface PortSocket {
  connectTimeout: number;
  reconnectStrategy: (retries: number) => number;
}

/**
 * No per-command timeout: node-redis 6 fails a command 5 s after it was queued, answered or not, so
 * the tail of a long burst failed while the link drained it fine (publishes rejected with an empty
 * TimeoutError). The link's watchdog finds a stalled connection instead and fails what waits on it.
 */
const commandOptions = { timeout: 0 };

/** One Redis node: a command connection (no offline queue: commands fail at once while Redis is down) and a pub/sub one. */
export function singleNodePort(url: string, socket: PortSocket): RedisPort {
  const cmd = createClient({ url, socket, disableOfflineQueue: true, commandOptions });
  const sub = createClient({ url, socket, commandOptions });
  for (const client of [cmd, sub]) {
    // Without an error listener node-redis would throw the error and end the process.
    client.on("error", () => {});
    client.on("end", () => {});
  }
  const connections = [
    { name: "command", client: cmd, ...countTraffic(cmd) },
    { name: "pub/sub", client: sub, ...countTraffic(sub) },
  ];
  // Each listener wrapped once (unsubscribe finds it again): a message counts as a reply on the pub/sub connection.
  const counted = new WeakMap<PubSubListener, PubSubListener>();
  const counting = (listener: PubSubListener) => {
    let wrapped = counted.get(listener);
    if (wrapped === undefined) {
      wrapped = (message, channel) => {
        noteReply(sub);
        listener(message, channel);
      };
      counted.set(listener, wrapped);
    }
    return wrapped;
  };
  return {
    get isReady() {
      return cmd.isReady && sub.isReady;
    },
    publishCommand: "PUBLISH",
    connections: () => connections,
    onReady(fn) {
      cmd.on("ready", fn);
      sub.on("ready", fn);
    },
    tag: (channel) => channel,
    publish: (channel, message) => cmd.publish(channel, message),
    subscribe: (channel, listener) => sub.subscribe(channel, counting(listener)),
    unsubscribe: (channel, listener) => sub.unsubscribe(channel, listener === undefined ? undefined : counting(listener)),
    ...keyCommands(cmd),
    hashAndPublish(hash, field, value, ttl, channel, message) {
      const multi = cmd.multi();
      if (value !== undefined) multi.hSet(hash, field, value).pExpire(hash, ttl);
      else multi.hDel(hash, field);
      return multi.publish(channel, message).exec();
    },
    async connect() {
      await Promise.all([cmd.connect(), sub.connect()]);
    },
    async close() {
      await Promise.allSettled([cmd.close(), sub.close()]);
    },
    destroy() {
      cmd.destroy();
      sub.destroy();
    },
  };
}

/** A Redis Cluster, discovered from any of `urls`; its channels are sharded. */
export function clusterPort(urls: string[], socket: PortSocket): RedisPort {
  const cluster = createCluster({ rootNodes: urls.map((url) => ({ url })), defaults: { socket, disableOfflineQueue: true }, commandOptions });
  cluster.on("error", () => {});
  cluster.on("node-error", () => {});
  // A sharded pub/sub message does not say which master's connection it came on: on a cluster a
  // pub/sub connection counts only the replies to its commands (the watchdog's PINGs).
  const connections = () => {
    const out: WatchedConnection[] = [];
    const watch = (name: string, client: LinkClient & object) => out.push({ name, client, ...countTraffic(client) });
    for (const master of cluster.masters) {
      if (master.client !== undefined) watch(`command ${master.address}`, master.client);
      if (master.pubSub !== undefined) watch(`pub/sub ${master.address}`, master.pubSub.client);
    }
    return out;
  };
  return {
    // The command connections; pub/sub connections open on a master's first subscription, and
    // the link watches them (a subscribe waits for its own).
    get isReady() {
      return cluster.isReady && cluster.masters.every((master) => master.client?.isReady === true);
    },
    publishCommand: "SPUBLISH",
    connections,
    onReady(fn) {
      cluster.on("node-ready", fn);
    },
    tag: (channel) => `{${channel}}`,
    publish: (channel, message) => cluster.sPublish(channel, message),
    subscribe: (channel, listener) => cluster.sSubscribe(channel, listener),
    unsubscribe: (channel, listener) => cluster.sUnsubscribe(channel, listener),
    ...keyCommands(cluster),
    hashAndPublish(hash, field, value, ttl, channel, message) {
      // Routed by the hash: it and the channel carry the same hash tag.
      const multi = cluster.multi(hash);
      if (value !== undefined) multi.hSet(hash, field, value).pExpire(hash, ttl);
      else multi.hDel(hash, field);
      return multi.sPublish(channel, message).exec();
    },
    async connect() {
      await cluster.connect();
    },
    async close() {
      await cluster.close().catch(() => {});
    },
    destroy() {
      cluster.destroy();
    },
  };
}

/** The key and script commands of the port, the same calls on one node's client and on a cluster. */
type KeyCommands = Pick<RedisPort, "scriptLoad" | "eval" | "evalSha" | "setPx" | "get" | "del" | "hGetAll" | "hDel">;

/** The {@link KeyCommands} of a node-redis client or cluster, which share these commands' signatures. */
function keyCommands(redis: object): KeyCommands {
  // Adapter boundary: one call shape for both; node-redis types the two receivers separately.
  const r = redis as ReturnType<typeof createClient>;
  return {
    scriptLoad: (script) => r.scriptLoad(script),
    eval: (script, keys, args) => r.eval(script, { keys, arguments: args }),
    evalSha: (sha, keys, args) => r.evalSha(sha, { keys, arguments: args }),
    setPx: (key, value, ms) => r.set(key, value, { PX: ms }),
    get: (key) => r.get(key),
    del: (key) => r.del(key),
    hGetAll: (key) => r.hGetAll(key),
    hDel: (key, field) => r.hDel(key, field),
  };
}
