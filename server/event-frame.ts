/**
 * The event frame of a topic message: built once per publish and sent to every local subscriber
 * (topics.ts), and built again for each message of a history replay (subscribe.ts).
 * @module
 */
import { decode, encode, frameOf } from "../shared/codec.ts";
import type { WireFrame } from "../shared/binary-frame.ts";
import type { BrokerMessage } from "./broker/broker.ts";

/**
 * The event frame of a broker message: one frame for every subscriber, and for history replay. A
 * message holding binary values (base64 in the broker) becomes a binary frame carrying their bytes.
 */
export function eventFrame(message: BrokerMessage): WireFrame {
  const fields = { type: "event", topic: message.topic, key: message.key, offset: message.offset, data: message.data };
  const text = JSON.stringify(fields);
  // Binary annotations are written `["custom",`; a string holding those characters only costs a re-encode.
  if (message.data.meta === undefined || !text.includes('["custom",')) return text;
  return frameOf(() => JSON.stringify({ ...fields, data: encode(decode(message.data)) }));
}
