/**
 * The Redis side of the HTTP fallback's routing: each instance SUBSCRIBEs to a channel of its own
 * (`<prefix>i:<instance>`), and a POST that reached another instance is PUBLISHed there, so a
 * client's POSTs may land on any instance (no sticky sessions).
 * @module
 */
import type { createClient } from "redis";
import type { SessionRelay } from "./broker.ts";

type Client = ReturnType<typeof createClient>;

/**
 * Creates the relay of one instance.
 * @param cmd the connection for commands (PUBLISH)
 * @param sub the connection in subscriber mode
 * @param prefix the broker's key and channel prefix
 */
export function redisSessions(cmd: Client, sub: Client, prefix: string): SessionRelay {
  const instance = crypto.randomUUID();
  const channel = (id: string) => `${prefix}i:${id}`;
  return {
    instance,
    async listen(receive) {
      await sub.subscribe(channel(instance), (message) => receive(message));
    },
    async forward(to, message) {
      // PUBLISH answers how many subscribers got it: none means the instance is gone.
      return (await cmd.publish(channel(to), message)) > 0;
    },
  };
}
