/**
 * Tether's Redis broker: several instances of a service share topics, history, offsets and
 * presence through one Redis (7.x). Uses the `redis` npm package (node-redis), a dependency of
 * this package; no other entry point loads it.
 *
 * @example Scale out on Redis
 * ```ts ignore
 * import { createService } from "@tether/rpc/server";
 * import { createRedisBroker } from "@tether/rpc/redis";
 *
 * const broker = await createRedisBroker("redis://127.0.0.1:6379");
 * const service = createService(contract, handlers, { broker });
 * ```
 * @module
 */
export { createRedisBroker, type RedisBroker, type RedisBrokerMetrics, type RedisBrokerOptions } from "./broker/redis.ts";
export type { LinkTiming } from "./broker/redis-watchdog.ts";
