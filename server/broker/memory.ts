/**
 * The embedded broker: one process, in-memory offsets and bounded history per topic instance.
 * @module
 */
import type { HistoryOptions } from "../../shared/contract.ts";
import {
  type Broker,
  type BrokerMessage,
  DEFAULT_HISTORY,
  type Deliver,
  isStreamed,
  type Recovery,
  type StreamPosition,
} from "./broker.ts";

interface Stream {
  epoch: string;
  offset: number;
  /** Kept messages with their publish time, oldest first. */
  kept: { at: number; message: BrokerMessage }[];
}

/** Creates the in-memory broker (the default when no `REDIS_URL` is set). */
export function createMemoryBroker(): Broker {
  const streams = new Map<string, Stream>();
  const listening = new Set<string>();
  let deliver: Deliver = () => {};

  const stream = (channel: string): Stream => {
    let s = streams.get(channel);
    if (s === undefined) {
      s = { epoch: Math.random().toString(36).slice(2, 10), offset: 0, kept: [] };
      streams.set(channel, s);
    }
    return s;
  };

  const trim = (s: Stream, history: Required<HistoryOptions>, now: number) => {
    let drop = Math.max(0, s.kept.length - history.size);
    while (drop < s.kept.length && now - s.kept[drop]!.at > history.maxAge) drop++;
    if (drop > 0) s.kept.splice(0, drop);
  };

  return {
    start(fn) {
      deliver = fn;
    },
    publish(channel, message, history) {
      if (isStreamed(message.target)) {
        const s = stream(channel);
        message.offset = ++s.offset;
        if (history !== false) {
          const now = Date.now();
          s.kept.push({ at: now, message });
          trim(s, { ...DEFAULT_HISTORY, ...history }, now);
        }
      }
      if (listening.has(channel)) deliver(channel, message);
    },
    listen(channel) {
      listening.add(channel);
    },
    unlisten(channel) {
      listening.delete(channel);
      // Forget a stream nobody listens to and that keeps nothing: its epoch changes if it comes back.
      const s = streams.get(channel);
      if (s !== undefined && s.kept.length === 0) streams.delete(channel);
    },
    position(channel): StreamPosition {
      const s = stream(channel);
      return { epoch: s.epoch, offset: s.offset };
    },
    recover(channel, since): Recovery {
      const s = stream(channel);
      const position = { epoch: s.epoch, offset: s.offset };
      if (since.epoch !== s.epoch || since.offset > s.offset) return { recovered: false, position, messages: [] };
      const missed = s.offset - since.offset;
      if (missed === 0) return { recovered: true, position, messages: [] };
      const messages = s.kept.slice(-missed).map((k) => k.message);
      const complete = messages.length === missed && messages[0]?.offset === since.offset + 1;
      return complete ? { recovered: true, position, messages } : { recovered: false, position, messages: [] };
    },
    healthy: () => true,
    close() {
      streams.clear();
      listening.clear();
      return Promise.resolve();
    },
  };
}
