/**
 * The client's subscriptions: subscribe frames out, confirmations, events and presence in, routed
 * by topic instance; resent with their positions after every reconnect.
 * @module
 */
import { decode, encode, type Payload } from "../shared/codec.ts";
import { RpcError } from "../shared/errors.ts";
import type { EventFrame, PresenceFrame, SubscribedFrame } from "../shared/protocol.ts";
import { ClientSubscription, type SubscriptionHandlers } from "./subscription.ts";

/** Every subscription of one client. */
export class SubscriptionRegistry {
  private readonly all = new Set<ClientSubscription>();
  private readonly byChannel = new Map<string, Set<ClientSubscription>>();
  /** Subscribe frames awaiting their confirmation, by request id. */
  private readonly pending = new Map<string | number, ClientSubscription>();

  /**
   * @param send writes a frame; false when there is no open socket
   * @param nextId a fresh request id
   * @param wake asks for a connection (lazy mode)
   * @param changed called when the set of subscriptions shrinks (lazy mode's idle timer listens)
   */
  constructor(
    private readonly send: (frame: string) => boolean,
    private readonly nextId: () => number,
    private readonly wake: () => void,
    private readonly changed: () => void,
  ) {}

  /** How many subscriptions the app holds. */
  get size(): number {
    return this.all.size;
  }

  /** Starts a subscription; it is sent now if connected, else on connect. */
  subscribe(topic: string, params: unknown, handlers: SubscriptionHandlers<unknown, unknown> = {}): ClientSubscription {
    const sub: ClientSubscription = new ClientSubscription(topic, params, handlers, (s) => this.release(s));
    this.all.add(sub);
    if (!this.transmit(sub)) this.wake();
    return sub;
  }

  /** Sends every subscription again, each with where it stopped (after a (re)connect). */
  resubscribeAll(): void {
    for (const sub of this.all) this.transmit(sub);
  }

  /** The server confirmed a subscribe. */
  subscribed(frame: SubscribedFrame): void {
    const sub = this.pending.get(frame.id);
    this.pending.delete(frame.id);
    if (sub === undefined) return;
    const channel = `${frame.topic}:${frame.key}`;
    if (sub.ended) {
      // Unsubscribed while the subscribe was in flight: undo it unless another handle shares it.
      if (!this.byChannel.has(channel)) this.sendUnsubscribe(frame.topic, frame.key);
      return;
    }
    let set = this.byChannel.get(channel);
    if (set === undefined) this.byChannel.set(channel, (set = new Set()));
    set.add(sub);
    sub.confirmed(frame.key, frame.epoch, frame.offset, frame.recovered);
  }

  /** An error frame for a subscribe; false when the id is not one of ours. */
  failed(id: string | number | null, error: RpcError): boolean {
    const sub = id === null ? undefined : this.pending.get(id);
    if (sub === undefined) return false;
    this.pending.delete(id!);
    this.all.delete(sub);
    sub.failed(error);
    return true;
  }

  /** Delivers an event to every local subscription of its instance. */
  event(frame: EventFrame): void {
    const subs = this.byChannel.get(`${frame.topic}:${frame.key}`);
    if (subs === undefined) return;
    const message = decode(frame.data);
    for (const sub of subs) sub.event(message, frame.offset);
  }

  /** Applies a presence frame to every local subscription of its instance. */
  presence(frame: PresenceFrame): void {
    const subs = this.byChannel.get(`${frame.topic}:${frame.key}`);
    if (subs === undefined) return;
    const view = { count: frame.count, state: decodeMetas(frame.state), joins: decodeMetas(frame.joins), leaves: decodeMetas(frame.leaves) };
    for (const sub of subs) sub.presenceFrame(view as never);
  }

  /** The server ended a subscription by itself. */
  ended(topic: string, key: string): void {
    for (const sub of this.byChannel.get(`${topic}:${key}`) ?? []) sub.failed(new RpcError("FORBIDDEN", "The server ended this subscription"));
  }

  /** The socket died: confirmations in flight will never come. */
  disconnected(): void {
    for (const sub of this.all) sub.active = false;
    this.pending.clear();
  }

  /** Ends every subscription with an error (the client closed). */
  failAll(error: RpcError): void {
    for (const sub of [...this.all]) sub.failed(error);
    this.all.clear();
    this.byChannel.clear();
    this.pending.clear();
  }

  private transmit(sub: ClientSubscription): boolean {
    const id = `s${this.nextId()}`;
    const frame: Record<string, unknown> = { type: "subscribe", id, topic: sub.topic, params: encode(sub.params) };
    if (sub.epoch !== undefined) frame.since = { epoch: sub.epoch, offset: sub.offset };
    if (!this.send(JSON.stringify(frame))) return false;
    this.pending.set(id, sub);
    return true;
  }

  /** Forgets a subscription; the server is told only when no other local one shares its instance. */
  private release(sub: ClientSubscription): void {
    this.all.delete(sub);
    if (sub.key !== undefined) {
      const channel = `${sub.topic}:${sub.key}`;
      const set = this.byChannel.get(channel);
      set?.delete(sub);
      if (set?.size === 0) {
        this.byChannel.delete(channel);
        this.sendUnsubscribe(sub.topic, sub.key);
      }
    }
    this.changed();
  }

  private sendUnsubscribe(topic: string, key: string): void {
    this.send(JSON.stringify({ type: "unsubscribe", id: `u${this.nextId()}`, topic, key }));
  }
}

type Metas = Record<string, Record<string, Payload>> | undefined;

/** Decodes the metadata payloads of a presence state or diff. */
function decodeMetas(members: Metas): Record<string, Record<string, unknown>> | undefined {
  if (members === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(members).map(([member, metas]) => [member, Object.fromEntries(Object.entries(metas).map(([conn, p]) => [conn, decode(p)]))]),
  );
}
