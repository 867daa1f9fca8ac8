/**
 * Publishing from the server (`service.publish`, `ctx.publish`) and of a client publish: params and
 * message validated against the topic's schemas (once), then handed to the broker, which fans the
 * message out on every instance.
 * @module
 */
import * as v from "valibot";
import { encode, topicKey } from "../shared/codec.ts";
import type { AnyTopic, ContractTree } from "../shared/contract.ts";
import { RpcError } from "../shared/errors.ts";
import type { Broker, BrokerMessage } from "./broker/broker.ts";
import type { Publisher } from "./handlers.ts";
import type { Target } from "./target.ts";
import type { Metrics } from "./metrics.ts";
import { channelOf } from "./topics.ts";

/** The settled promise every synchronous (in-memory) publish returns. */
const PUBLISHED: Promise<void> = Promise.resolve();

/** The two ways into a publish: validating, or with params and message already validated. */
export interface Publishing {
  /** Validates params and message (a TypeError says which failed), then publishes. */
  publisher: Publisher<ContractTree>;
  /** Sends params and a message already validated against the topic's schemas; settles once the broker took it. */
  publishValid(topic: string, params: unknown, message: unknown, target: Target | undefined): Promise<void>;
}

/**
 * Creates the publish path of a service.
 * @param topics the contract's topics by path
 * @param broker where messages go (memory or Redis)
 * @param metrics counts every publish
 */
export function createPublishing(topics: ReadonlyMap<string, { def: AnyTopic }>, broker: Broker, metrics: Metrics): Publishing {
  const publishValid = (topic: string, params: unknown, message: unknown, target: Target | undefined): Promise<void> => {
    const key = topicKey(params);
    const msg: BrokerMessage = { topic, key, data: encode(message) };
    if (target !== undefined) msg.target = target;
    metrics.published++;
    const done = broker.publish(channelOf(topic, key), msg, topics.get(topic)?.def.history ?? false);
    // The memory broker publishes synchronously: one shared settled promise, nothing allocated.
    if (!(done instanceof Promise)) return PUBLISHED;
    const taken = done.catch(() => {
      throw new RpcError("INTERNAL", `Cannot publish to "${topic}": the broker is unavailable`);
    });
    // A handler may ignore the promise: its failure is counted and logged by the broker, never an unhandled rejection.
    taken.catch(() => {});
    return taken;
  };

  const publisher = {
    publish(topic: string, params: unknown, message: unknown, target?: Target) {
      const entry = topics.get(topic);
      if (entry === undefined) throw new TypeError(`Cannot publish to "${topic}": no such topic`);
      const p = entry.def.params === undefined ? { success: true as const, output: params } : v.safeParse(entry.def.params, params);
      if (!p.success) throw new TypeError(`Cannot publish to "${topic}": params failed validation: ${p.issues[0].message}`);
      const m = v.safeParse(entry.def.message, message);
      if (!m.success) throw new TypeError(`Cannot publish to "${topic}": message failed validation: ${m.issues[0].message}`);
      return publishValid(topic, p.output, m.output, target);
    },
  } as Publisher<ContractTree>;

  return { publisher, publishValid };
}
