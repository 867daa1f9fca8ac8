/**
 * The Lua scripts the Redis broker runs. Each runs atomically in Redis, so an offset, its history
 * entry and its pub/sub message can never disagree, whichever instance published.
 *
 * Keys per topic instance (`<prefix>m:<channel>` meta hash, `<prefix>h:<channel>` history stream;
 * on a Redis Cluster `<channel>` is written `{<channel>}`, a hash tag that keeps them in one slot):
 * the meta hash holds `epoch`, `offset` and `age` (the topic's maxAge); history entries have the id
 * `<offset>-0` and the fields `d` (message JSON) and `t` (Redis time in ms when it was appended).
 * @module
 */

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
export const PUBLISH_SCRIPT = `${ENSURE_EPOCH}
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
export const READ_SCRIPT = `${ENSURE_EPOCH}
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
