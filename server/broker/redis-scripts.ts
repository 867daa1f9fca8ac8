/**
 * The Lua scripts that keep each topic instance's offset and history in Redis, and the broker's
 * calls of them. Each runs atomically in Redis, so an offset, its history entry and its pub/sub
 * message can never disagree, whichever instance published. Scripts run by SHA once loaded, and by
 * their text again when Redis forgot them (a restart).
 *
 * Keys per topic instance (`<prefix>m:<channel>` meta hash, `<prefix>h:<channel>` history stream;
 * on a Redis Cluster `<channel>` is written `{<channel>}`, a hash tag that keeps them in one slot):
 * the meta hash holds `epoch`, `offset` and `age` (the topic's maxAge); history entries have the id
 * `<offset>-0` and the fields `d` (message JSON) and `t` (Redis time in ms when it was appended).
 * @module
 */
import type { BrokerMessage, StreamPosition } from "./broker.ts";
import type { RedisPort } from "./redis-port.ts";

/** Shared prologue: makes sure the meta hash has an epoch; a new epoch drops any stale history. */
const ENSURE_EPOCH = `
local created = redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1])
if created == 1 then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'offset', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Publishes one streamed message.
 * KEYS: meta, history. ARGV: candidate epoch, meta TTL ms, pub/sub channel, message JSON,
 * history size (0 = no history), history maxAge ms, publish command (PUBLISH, or SPUBLISH on a
 * cluster, where the channel shares the keys' hash tag and so their slot).
 * Publishes `{"e":epoch,"o":offset,"m":message}` and returns the offset.
 */
const PUBLISH_SCRIPT = `${ENSURE_EPOCH}
local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local size = tonumber(ARGV[5])
if size > 0 then
  local age = tonumber(ARGV[6])
  redis.call('HSET', KEYS[1], 'age', age)
  redis.call('XADD', KEYS[2], 'MAXLEN', size, offset .. '-0', 'd', ARGV[4], 't', now)
  local cutoff = now - age
  for _ = 1, size do
    local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
    if first == nil or tonumber(first[2][4]) >= cutoff then break end
    redis.call('XDEL', KEYS[2], first[1])
  end
  redis.call('PEXPIRE', KEYS[2], age)
end
redis.call(ARGV[7], ARGV[3], '{"e":"' .. epoch .. '","o":' .. offset .. ',"m":' .. ARGV[4] .. '}')
return offset
`;

/**
 * Reads a topic instance's position and the history after an offset, in one atomic step.
 * KEYS: meta, history. ARGV: candidate epoch, meta TTL ms, first offset wanted (0 = none).
 * Returns [epoch, offset, id1, d1, id2, d2, ...]: the stream id (`<offset>-0`) and message JSON of every kept entry from that offset on,
 * stopping at the first entry older than the topic's maxAge.
 */
const READ_SCRIPT = `${ENSURE_EPOCH}
local offset = tonumber(redis.call('HGET', KEYS[1], 'offset'))
local out = { epoch, offset }
local from = tonumber(ARGV[3])
if from > 0 and from <= offset then
  local age = tonumber(redis.call('HGET', KEYS[1], 'age') or '0')
  local cutoff = now - age
  for _, entry in ipairs(redis.call('XRANGE', KEYS[2], from .. '-0', '+')) do
    if tonumber(entry[2][4]) >= cutoff then
      out[#out + 1] = entry[1]
      out[#out + 1] = entry[2][2]
    end
  end
end
return out
`;

/** The topic instances' streams in Redis, through the scripts above. */
export interface RedisStreams {
  /** Loads both scripts (SCRIPT LOAD), before the first publish or read. */
  load(): Promise<void>;
  /**
   * Appends a message to a topic instance's stream and publishes it on `channelName` with its
   * epoch and offset. Commands leave in call order, which fixes the offsets of concurrent publishes.
   * @param size history entries kept (0: none)
   * @param maxAge milliseconds a history entry is kept
   */
  publish(channel: string, channelName: string, message: BrokerMessage, size: number, maxAge: number): Promise<unknown>;
  /** The position and the kept messages from offset `from` on (none when `from` is 0), with their offsets. */
  read(channel: string, from: number): Promise<{ position: StreamPosition; messages: BrokerMessage[] }>;
}

/**
 * Creates the stream calls of one broker.
 * @param port the broker's connections
 * @param prefix the broker's key prefix
 * @param metaTtl milliseconds an idle topic instance keeps its epoch and offset
 */
export function redisStreams(port: RedisPort, prefix: string, metaTtl: number): RedisStreams {
  const keys = (channel: string) => [`${prefix}m:${port.tag(channel)}`, `${prefix}h:${port.tag(channel)}`];
  const newEpoch = () => crypto.randomUUID().slice(0, 8);
  const shas = new Map<string, string>();
  const run = async (script: string, channel: string, args: string[]): Promise<unknown> => {
    const scriptKeys = keys(channel);
    const scriptArgs = [newEpoch(), String(metaTtl), ...args];
    const sha = shas.get(script);
    // No await before the command goes out: publishes leave in call order, which fixes their offsets.
    if (sha === undefined) return port.eval(script, scriptKeys, scriptArgs);
    try {
      return await port.evalSha(sha, scriptKeys, scriptArgs);
    } catch (error) {
      // A restarted Redis forgot its scripts. EVAL (which caches it again) goes out in the same tick
      // as the failure is seen, so publishes sent after this one still reach Redis after it.
      if (!String(error).includes("NOSCRIPT")) throw error;
      return port.eval(script, scriptKeys, scriptArgs);
    }
  };
  return {
    async load() {
      for (const script of [PUBLISH_SCRIPT, READ_SCRIPT]) shas.set(script, await port.scriptLoad(script));
    },
    publish: (channel, channelName, message, size, maxAge) =>
      run(PUBLISH_SCRIPT, channel, [channelName, JSON.stringify(message), String(size), String(maxAge), port.publishCommand]),
    async read(channel, from) {
      const [epoch, offset, ...entries] = (await run(READ_SCRIPT, channel, [String(from)])) as [string, number, ...string[]];
      const messages: BrokerMessage[] = [];
      for (let i = 0; i + 1 < entries.length; i += 2) {
        messages.push({ ...(JSON.parse(entries[i + 1]!) as BrokerMessage), offset: Number.parseInt(entries[i]!, 10) });
      }
      return { position: { epoch, offset: Number(offset) }, messages };
    },
  };
}
