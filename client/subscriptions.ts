/**
 * The client's subscriptions: subscribe frames out, confirmations, events and presence in, routed
 * by topic instance; resent with their positions after every reconnect.
 * @module
 */
import { decode, encode } from "../shared/codec.ts";
import { RpcError } from "../shared/errors.ts";
import type { EventFrame, PresenceFrame, SubscribedFrame } from "../shared/protocol.ts";
import { ClientSubscription, type SubscriptionHandlers } from "./subscription.ts";

/** Every subscription of one client. */
export interface SubscriptionRegistry {
  /** How many subscriptions the app holds. */
  size(): number;
  /** Starts a subscription; it is sent now if connected, else on connect. */
  subscribe(topic: string, params: unknown, handlers?: SubscriptionHandlers<unknown, unknown>): ClientSubscription;
  /** Sends every subscription again, each with where it stopped (after a (re)connect). */
  resubscribeAll(): void;
  /** The server confirmed a subscribe. */
  subscribed(frame: SubscribedFrame): void;
  /** An error frame for a subscribe; false when the id is not one of ours. */
  failed(id: string | number | null, error: RpcError): boolean;
  /** Delivers an event to every local subscription of its instance. */
  event(frame: EventFrame): void;
  /** Applies a presence frame to every local subscription of its instance. */
  presence(frame: PresenceFrame): void;
  /** The server ended a subscription by itself. */
  ended(topic: string, key: string): void;
  /** The socket died: confirmations in flight will never come. */
  disconnected(): void;
  /** Ends every subscription with an error (the client closed). */
  failAll(error: RpcError): void;
}

/**
 * Creates the subscription registry of one client.
 * @param send writes a frame; false when there is no open socket
 * @param nextId a fresh request id
 * @param wake asks for a connection (lazy mode)
 * @param changed called when the set of subscriptions shrinks (lazy mode's idle timer listens)
 */
export function createSubscriptions(
  send: (frame: string) => boolean,
  nextId: () => number,
  wake: () => void,
  changed: () => void,
): SubscriptionRegistry {
  const all = new Set<ClientSubscription>();
  const byChannel = new Map<string, Set<ClientSubscription>>();
  /** Subscribe frames awaiting their confirmation, by request id. */
  const pending = new Map<string | number, ClientSubscription>();

  const unsubscribe = (topic: string, key: string) => send(JSON.stringify({ type: "unsubscribe", id: `u${nextId()}`, topic, key }));
  const local = (frame: { topic: string; key: string }) => byChannel.get(`${frame.topic}:${frame.key}`) ?? [];

  const transmit = (sub: ClientSubscription): boolean => {
    const id = `s${nextId()}`;
    const frame: Record<string, unknown> = { type: "subscribe", id, topic: sub.topic, params: encode(sub.params) };
    if (sub.epoch !== undefined) frame.since = { epoch: sub.epoch, offset: sub.offset };
    if (!send(JSON.stringify(frame))) return false;
    pending.set(id, sub);
    return true;
  };

  /** Forgets a subscription; the server is told only when no other local one shares its instance. */
  const release = (sub: ClientSubscription): void => {
    all.delete(sub);
    const channel = `${sub.topic}:${sub.key}`;
    const set = byChannel.get(channel);
    if (set?.delete(sub) && set.size === 0) {
      byChannel.delete(channel);
      unsubscribe(sub.topic, sub.key!);
    }
    changed();
  };

  return {
    size: () => all.size,
    subscribe(topic, params, handlers = {}) {
      const sub: ClientSubscription = new ClientSubscription(topic, params, handlers, release);
      all.add(sub);
      if (!transmit(sub)) wake();
      return sub;
    },
    resubscribeAll() {
      for (const sub of all) transmit(sub);
    },
    subscribed(frame) {
      const sub = pending.get(frame.id);
      pending.delete(frame.id);
      if (sub === undefined) return;
      const channel = `${frame.topic}:${frame.key}`;
      // Unsubscribed while the subscribe was in flight: undo it unless another handle shares it.
      if (sub.ended) return void (byChannel.has(channel) || unsubscribe(frame.topic, frame.key));
      let set = byChannel.get(channel);
      if (set === undefined) byChannel.set(channel, (set = new Set()));
      set.add(sub);
      sub.confirmed(frame.key, frame.epoch, frame.offset, frame.recovered);
    },
    failed(id, error) {
      const sub = id === null ? undefined : pending.get(id);
      if (sub === undefined) return false;
      pending.delete(id!);
      all.delete(sub);
      sub.failed(error);
      return true;
    },
    event(frame) {
      const subs = local(frame);
      const message = decode(frame.data, true);
      for (const sub of subs) sub.event(message, frame.offset);
    },
    presence(frame) {
      for (const sub of local(frame)) sub.presenceFrame(frame);
    },
    ended(topic, key) {
      for (const sub of local({ topic, key })) sub.failed(new RpcError("FORBIDDEN", "The server ended this subscription"));
    },
    disconnected() {
      for (const sub of all) sub.active = false;
      pending.clear();
    },
    failAll(error) {
      for (const sub of [...all]) sub.failed(error);
      all.clear();
      byChannel.clear();
      pending.clear();
    },
  };
}
