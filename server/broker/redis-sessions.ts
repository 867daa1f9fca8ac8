/**
 * The Redis side of the HTTP fallback's routing: each instance SUBSCRIBEs to a channel of its own
 * (`<prefix>i:<instance>`), and a POST that reached another instance is PUBLISHed there, so a
 * client's POSTs may land on any instance (no sticky sessions). On a cluster the channel is sharded.
 * @module
 */
import type { SessionRelay } from "./broker.ts";
import type { RedisPort } from "./redis-port.ts";

/**
 * Creates the relay of one instance.
 * @param redis the broker's connections
 * @param prefix the broker's key and channel prefix
 */
export function redisSessions(redis: RedisPort, prefix: string): SessionRelay {
  const instance = crypto.randomUUID();
  const channel = (id: string) => `${prefix}i:${id}`;
  return {
    instance,
    async listen(receive) {
      await redis.subscribe(channel(instance), (message) => receive(message));
    },
    async forward(to, message) {
      // PUBLISH answers how many subscribers got it: none means the instance is gone. SPUBLISH counts
      // those on the channel's master, where the instance is subscribed.
      return (await redis.publish(channel(to), message)) > 0;
    },
  };
}
