/**
 * The scale-out broker: offsets, bounded history and fan-out in Redis, shared by every instance.
 *
 * A publish runs one Lua script (redis-scripts.ts) that increments the topic instance's offset,
 * appends to its capped history stream and PUBLISHes `{epoch, offset, message}`; every instance
 * with local subscribers SUBSCRIBEs to the channel. Pub/sub is lossy while a connection is down, so each instance checks
 * that offsets arrive without gaps, fills a gap from history, and when it cannot (history trimmed,
 * or Redis lost its data and the epoch changed) reports the channel as reset so that its
 * subscribers resubscribe and learn `recovered: false`. README, "Scale-out on Redis", states the
 * guarantee. On a Redis Cluster (`cluster` option) the same runs on sharded pub/sub, with each
 * topic instance's keys and channel in one slot (see redis-port.ts).
 * @module
 */
import { type Broker, type BrokerMessage, DEFAULT_HISTORY, type Deliver, isStreamed, type Recovery } from "./broker.ts";
import { RedisLink } from "./redis-link.ts";
import { clusterPort, type RedisPort, singleNodePort } from "./redis-port.ts";
import { redisClientCalls } from "./redis-client-calls.ts";
import { redisCluster } from "./redis-cluster.ts";
import { redisOutcomes } from "./redis-outcomes.ts";
import { RedisPresence } from "./redis-presence.ts";
import { redisSessions } from "./redis-sessions.ts";
import { redisStreams } from "./redis-scripts.ts";
import type { LinkTiming } from "./redis-watchdog.ts";
import { StreamFollower } from "./stream-follower.ts";

/** Settings of the Redis broker; `pingInterval` and `stallTimeout` time the watchdog of a stalled link. */
export interface RedisBrokerOptions extends LinkTiming {
  /** Prefix of every key and channel, so several services can share one Redis. @default "tether:" */
  prefix?: string;
  /** Milliseconds an idle topic instance keeps its epoch and offset (at least its history maxAge). @default 86400000 */
  metaTtl?: number;
  /** Milliseconds to wait for the first connection before giving up. @default 5000 */
  connectTimeout?: number;
  /** Milliseconds an instance's heartbeat lives: a killed instance's presence members leave after it. @default 15000 */
  instanceTtl?: number;
  /**
   * Milliseconds a `service.cluster` query or action waits for the other instances' answers, and a
   * server-to-client call for another instance's connection waits beyond its own timeout. @default 5000
   */
  clusterTimeout?: number;
  /**
   * Runs on a Redis Cluster (Redis 7+) instead of one node: `url` is one of its nodes and
   * `rootNodes` more nodes to discover it from. Channels are then sharded (SSUBSCRIBE/SPUBLISH), so
   * each message reaches only the master that owns its topic instance, and each topic instance's
   * keys share a hash tag. @default undefined (one Redis node)
   */
  cluster?: { rootNodes?: string[] };
}

/** Counters of the Redis broker, for metrics. */
export type RedisBrokerMetrics = {
  /** Messages published to Redis. */
  published: number;
  /** Publishes Redis did not take (unreachable or stalled): their callers got an error. */
  publishFailed: number;
  /** History reads to fill a gap in a channel's offsets or to catch up after a reconnect. */
  gapReads: number;
  /** Channels reset because history could not fill a gap or the epoch changed. */
  resets: number;
  /** Times the broker's link to Redis went down or stalled. */
  outages: number;
};

/** The Redis broker: a Broker plus its counters. */
export interface RedisBroker extends Broker {
  /** Counters since start. */
  metrics(): RedisBrokerMetrics;
}

/**
 * Connects to Redis and creates the broker.
 * @param url a Redis URL such as `redis://127.0.0.1:6379` (with `cluster`: any node of the cluster)
 * @throws {Error} when Redis cannot be reached within `connectTimeout`
 * @example const service = createChatService({ broker: await createRedisBroker(Deno.env.get("REDIS_URL")!) })
 * @example const broker = await createRedisBroker("redis://10.0.0.1:7000", { cluster: { rootNodes: ["redis://10.0.0.2:7000"] } })
 */
export async function createRedisBroker(url: string, options: RedisBrokerOptions = {}): Promise<RedisBroker> {
  const prefix = options.prefix ?? "tether:";
  const metrics: RedisBrokerMetrics = { published: 0, publishFailed: 0, gapReads: 0, resets: 0, outages: 0 };
  const socket = { connectTimeout: options.connectTimeout ?? 5000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000) };
  // Commands fail at once while Redis is down instead of piling up in an unbounded offline queue.
  const port: RedisPort = options.cluster === undefined ? singleNodePort(url, socket) : clusterPort([url, ...options.cluster.rootNodes ?? []], socket);
  const waitLimit = options.connectTimeout ?? 5000;
  /** Waits, at most `connectTimeout`, for Redis: a subscribe during a short outage waits instead of failing. */
  const reachable = async () => {
    const deadline = Date.now() + waitLimit;
    while (!port.isReady) {
      if (Date.now() > deadline) throw new Error(`Redis at ${url} is unreachable`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const channelName = (channel: string) => `${prefix}p:${port.tag(channel)}`;
  const channelOf = (name: string) => options.cluster === undefined ? name.slice(prefix.length + 2) : name.slice(prefix.length + 3, -1);
  const streams = redisStreams(port, prefix, options.metaTtl ?? 86_400_000);

  let deliver: Deliver = () => {};
  let reset: (channel: string) => void = () => {};
  const follower = new StreamFollower({
    deliver: (channel, message) => deliver(channel, message),
    reset: (channel, reason) => {
      metrics.resets++;
      link.reset(channel, reason);
      reset(channel);
    },
    read: (channel, after) => {
      metrics.gapReads++;
      return streams.read(channel, after + 1);
    },
  });

  const presence = new RedisPresence(port, prefix, options.instanceTtl ?? 15_000, { channel: channelName, hash: (channel) => `${prefix}r:${port.tag(channel)}` });
  const onMessage = (text: string, channel: string) => {
    const parsed = JSON.parse(text) as { e?: string; o?: number; m: BrokerMessage; pr?: Parameters<RedisPresence["receive"]>[0] };
    if (parsed.pr !== undefined) return presence.receive(parsed.pr);
    follower.receive(channelOf(channel), parsed.m, parsed.e, parsed.o);
  };
  // After a reconnect node-redis resubscribes, but messages published meanwhile were missed: once
  // every connection is back, every followed channel checks its position.
  const catchUp = () => {
    if (!port.isReady) return;
    if (follower.size > 0) follower.catchUpAll();
    presence.reannounce().catch(() => {});
  };
  port.onReady(catchUp);

  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Cannot connect to Redis at ${url}: no answer within ${waitLimit} ms`)), waitLimit);
  });
  try {
    await Promise.race([port.connect(), timedOut]);
    await streams.load();
  } catch (error) {
    port.destroy();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  // Watched from here on: every connection is up.
  const link = new RedisLink(port, url, options, () => metrics.outages++);

  // A position read before this instance's SUBSCRIBE took effect could miss the messages in
  // between: a second local subscriber waits until the first one's listen has finished.
  const starting = new Map<string, Promise<void>>();
  const settled = async (channel: string) => {
    await starting.get(channel)?.catch(() => {});
    await reachable();
  };

  const cluster = redisCluster(port, prefix, presence.instance, options.clusterTimeout ?? 5000);
  const clientCalls = redisClientCalls(port, prefix, presence.instance, options.clusterTimeout ?? 5000, () => link.logger);
  return {
    presence,
    cluster,
    clientCalls,
    outcomes: redisOutcomes(port, prefix, presence.instance),
    sessions: redisSessions(port, prefix),
    start(fn, onReset, onPresence, logger) {
      deliver = fn;
      if (onReset !== undefined) reset = onReset;
      if (onPresence !== undefined) presence.onRemote = onPresence;
      link.logger = logger;
      link.start();
      presence.start();
    },
    async publish(channel, message, history) {
      try {
        if (!isStreamed(message.target)) {
          await port.publish(channelName(channel), JSON.stringify({ m: message }));
        } else {
          const { size, maxAge } = history === false ? { size: 0, maxAge: 0 } : { ...DEFAULT_HISTORY, ...history };
          await streams.publish(channel, channelName(channel), message, size, maxAge);
        }
        metrics.published++;
      } catch (error) {
        metrics.publishFailed++;
        link.publishFailed(channel, error);
        throw error;
      }
    },
    async listen(channel) {
      const listening = (async () => {
        await reachable();
        follower.follow(channel);
        await port.subscribe(channelName(channel), onMessage);
        follower.started(channel, (await streams.read(channel, 0)).position);
        await presence.load(channel);
      })();
      starting.set(channel, listening);
      try {
        await listening;
      } finally {
        if (starting.get(channel) === listening) starting.delete(channel);
      }
    },
    async unlisten(channel) {
      follower.forget(channel);
      presence.forget(channel);
      // With its listener: node-redis then marks the channel as unsubscribing, so a listen right after sends SUBSCRIBE again
      // (without one, that listen would only add a listener that this UNSUBSCRIBE's reply then deletes).
      await port.unsubscribe(channelName(channel), onMessage);
    },
    async position(channel) {
      await settled(channel);
      return (await streams.read(channel, 0)).position;
    },
    async recover(channel, since): Promise<Recovery> {
      await settled(channel);
      const { position, messages } = await streams.read(channel, since.offset + 1);
      const missed = position.offset - since.offset;
      if (since.epoch !== position.epoch || missed < 0) return { recovered: false, position, messages: [] };
      const kept = messages.slice(0, missed);
      const complete = kept.length === missed && (missed === 0 || kept[0]!.offset === since.offset + 1);
      return complete ? { recovered: true, position, messages: kept } : { recovered: false, position, messages: [] };
    },
    delivered: (channel) => follower.position(channel),
    healthy: () => link.state === "up",
    metrics: () => ({ ...metrics }),
    async close() {
      link.close();
      follower.clear();
      await cluster.close();
      await clientCalls.close();
      await presence.close();
      await port.close();
    },
  };
}
