/**
 * Idempotency outcomes in Redis (`<prefix>o:<key>`), so that a retry landing on another instance
 * gets the first run's outcome. A key is `p:<instance>` while that instance runs the call and
 * `d:<outcome JSON>` once it finished; a claim held by an instance whose heartbeat expired (it was
 * killed mid-call) is taken over.
 * @module
 */
import type { createClient } from "redis";
import type { SharedOutcomes, StoredOutcome } from "../idempotency.ts";

type Client = ReturnType<typeof createClient>;

/** KEYS: outcome key. ARGV: instance id, claim TTL ms, heartbeat key prefix. Returns {state[, outcome]}. */
const CLAIM_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 2) == 'd:' then return { 'done', string.sub(v, 3) } end
if v and redis.call('EXISTS', ARGV[3] .. string.sub(v, 3)) == 1 then return { 'pending' } end
redis.call('SET', KEYS[1], 'p:' .. ARGV[1], 'PX', ARGV[2])
return { 'run' }
`;

/** KEYS: outcome key. ARGV: instance id. Deletes the key only while this instance holds the claim. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == 'p:' .. ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`;

/** Creates the shared outcome store of one instance (its id names its claims). */
export function redisOutcomes(cmd: Client, prefix: string, instance: string): SharedOutcomes {
  const key = (k: string) => `${prefix}o:${k}`;
  return {
    async claim(k, windowMs) {
      const args = [instance, String(windowMs), `${prefix}i:`];
      const [state, outcome] = (await cmd.eval(CLAIM_SCRIPT, { keys: [key(k)], arguments: args })) as [string, string?];
      if (state === "done") return { state, outcome: JSON.parse(outcome!) as StoredOutcome };
      return { state: state === "run" ? "run" : "pending" };
    },
    async settle(k, outcome, windowMs) {
      await cmd.set(key(k), `d:${JSON.stringify(outcome)}`, { PX: windowMs });
    },
    async release(k) {
      await cmd.eval(RELEASE_SCRIPT, { keys: [key(k)], arguments: [instance] });
    },
  };
}
