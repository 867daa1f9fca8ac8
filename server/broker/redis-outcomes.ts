/**
 * Idempotency outcomes in Redis (`<prefix>o:<key>`), so that a retry landing on another instance
 * gets the first run's outcome. A key is `p:<instance>` while that instance runs the call and
 * `d:<outcome JSON>` once it finished; a claim held by an instance whose heartbeat expired (it was
 * killed mid-call) is taken over. Each script touches only its outcome key (on a Redis Cluster the
 * heartbeat key lives in another slot): the heartbeat is checked between two scripts, and the
 * takeover succeeds only while the dead instance still holds the claim.
 * @module
 */
import type { SharedOutcomes, StoredOutcome } from "../idempotency.ts";
import type { RedisPort } from "./redis-port.ts";

/** KEYS: outcome key. ARGV: instance id, claim TTL ms. Returns {'done', outcome}, {'held', instance} or {'run'}. */
const CLAIM_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 2) == 'd:' then return { 'done', string.sub(v, 3) } end
if v then return { 'held', string.sub(v, 3) } end
redis.call('SET', KEYS[1], 'p:' .. ARGV[1], 'PX', ARGV[2])
return { 'run' }
`;

/** KEYS: outcome key. ARGV: instance id, claim TTL ms, the dead holder's id. Takes the claim over while that holder still has it. */
const TAKEOVER_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= 'p:' .. ARGV[3] then return 0 end
redis.call('SET', KEYS[1], 'p:' .. ARGV[1], 'PX', ARGV[2])
return 1
`;

/** KEYS: outcome key. ARGV: instance id. Deletes the key only while this instance holds the claim. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == 'p:' .. ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`;

/** Creates the shared outcome store of one instance (its id names its claims). */
export function redisOutcomes(redis: RedisPort, prefix: string, instance: string): SharedOutcomes {
  const key = (k: string) => `${prefix}o:${k}`;
  return {
    async claim(k, windowMs) {
      const args = [instance, String(windowMs)];
      const [state, value] = (await redis.eval(CLAIM_SCRIPT, [key(k)], args)) as [string, string?];
      if (state === "done") return { state, outcome: JSON.parse(value!) as StoredOutcome };
      if (state === "run") return { state };
      // Held: by a live instance it is pending; a dead one's claim is taken over, unless another took it first.
      if (value === instance || (await redis.get(`${prefix}i:${value}`)) !== null) return { state: "pending" };
      const taken = await redis.eval(TAKEOVER_SCRIPT, [key(k)], [...args, value!]);
      return { state: taken === 1 ? "run" : "pending" };
    },
    async settle(k, outcome, windowMs) {
      await redis.setPx(key(k), `d:${JSON.stringify(outcome)}`, windowMs);
    },
    async release(k) {
      await redis.eval(RELEASE_SCRIPT, [key(k)], [instance]);
    },
  };
}
