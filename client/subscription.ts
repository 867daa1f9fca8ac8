/**
 * One client-side subscription: its handlers, its position for recovery, its presence view, and
 * an async iterator over its messages.
 * @module
 */
import { decode } from "../shared/codec.ts";
import type { RpcError } from "../shared/errors.ts";
import type { PresenceFrame, PresenceMetas } from "../shared/protocol.ts";

/** The presence of a topic instance as the client sees it. */
export interface PresenceView<Meta> {
  /** Members present. */
  count: number;
  /** Each member's metadata, one entry per connection (tab); empty for counts-only topics. */
  members: Record<string, Meta[]>;
}

/** Callbacks of a subscription; all optional. */
export interface SubscriptionHandlers<Message, Meta = never> {
  /** Each message, in order, once. */
  onData?(message: Message): void;
  /** The subscription failed (validation, authorization) or was ended by the server. */
  onError?(error: RpcError): void;
  /** The server confirmed the subscription; `recovered` is false when messages may have been missed. */
  onSubscribed?(info: { recovered: boolean; resubscribed: boolean }): void;
  /** Presence changed (topics with presence). */
  onPresence?(presence: PresenceView<Meta>): void;
}

/** The handle returned by `subscribe`: unsubscribe, await confirmation, or iterate messages. */
export interface SubscriptionHandle<Message, Meta = never> extends AsyncIterable<Message> {
  /** Resolves when the server confirmed the first subscribe; rejects with its error. */
  readonly ready: Promise<void>;
  /** The latest presence view (topics with presence). */
  readonly presence: PresenceView<Meta>;
  /** Stops delivery and tells the server; safe to call twice. */
  unsubscribe(): void;
}

/** Most messages an unread async iterator buffers; older ones are dropped past it. */
const ITERATOR_BUFFER = 1000;

/** A subscription's state inside the client. */
export class ClientSubscription<Message = unknown, Meta = unknown> implements SubscriptionHandle<Message, Meta> {
  /** Server-assigned instance key, known after the first `subscribed`. */
  key: string | undefined;
  /** Recovery position: the epoch and last offset delivered. */
  epoch: string | undefined;
  offset = 0;
  /** Whether the server has confirmed the current (re)subscription. */
  active = false;
  /** Whether the app has unsubscribed. */
  ended = false;
  readonly ready: Promise<void>;
  presence: PresenceView<Meta> = { count: 0, members: {} };
  #metas = new Map<string, Map<string, Meta>>();
  #resolveReady!: () => void;
  #rejectReady!: (error: RpcError) => void;
  readonly #iterators = new Set<{ queue: Message[]; wake: (() => void) | undefined }>();
  readonly #handlers: SubscriptionHandlers<Message, Meta>;
  readonly #release: (sub: ClientSubscription<Message, Meta>) => void;

  constructor(
    readonly topic: string,
    readonly params: unknown,
    handlers: SubscriptionHandlers<Message, Meta>,
    release: (sub: ClientSubscription<Message, Meta>) => void,
  ) {
    this.#handlers = handlers;
    this.#release = release;
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    // Nobody may await `ready`; its rejection is still delivered through onError.
    this.ready.catch(() => {});
  }

  /** Called when the server confirms a (re)subscription. */
  confirmed(key: string, epoch: string, offset: number, recovered: boolean | undefined): void {
    const resubscribed = this.key !== undefined;
    const complete = recovered ?? !resubscribed;
    if (!complete || this.epoch !== epoch) this.offset = offset;
    this.key = key;
    this.epoch = epoch;
    this.active = true;
    this.#resolveReady();
    this.#handlers.onSubscribed?.({ recovered: complete, resubscribed });
  }

  /** Delivers one event unless its offset was already seen (exactly once across reconnects). */
  event(message: Message, offset: number | undefined): void {
    if (offset !== undefined) {
      if (offset <= this.offset) return;
      this.offset = offset;
    }
    this.#handlers.onData?.(message);
    for (const it of this.#iterators) {
      if (it.queue.length >= ITERATOR_BUFFER) it.queue.shift();
      it.queue.push(message);
      it.wake?.();
    }
  }

  /** Applies a presence frame (full state or diff, metadata still encoded) and tells the app. */
  presenceFrame(frame: PresenceFrame): void {
    const metas = frame.state === undefined ? this.#metas : (this.#metas = new Map());
    const apply = (members: Record<string, PresenceMetas> = {}, join: boolean) => {
      for (const [member, conns] of Object.entries(members)) {
        const known = metas.get(member) ?? new Map<string, Meta>();
        for (const [conn, meta] of Object.entries(conns)) join ? known.set(conn, decode(meta, true) as Meta) : known.delete(conn);
        known.size > 0 ? metas.set(member, known) : metas.delete(member);
      }
    };
    // Leaves before joins (PROTOCOL.md section 5): a connection back with other metadata is in both.
    apply(frame.state, true);
    apply(frame.leaves, false);
    apply(frame.joins, true);
    this.presence = { count: frame.count, members: Object.fromEntries([...metas].map(([m, known]) => [m, [...known.values()]])) };
    this.#handlers.onPresence?.(this.presence);
  }

  /** The server refused or ended the subscription. */
  failed(error: RpcError): void {
    this.active = false;
    this.#rejectReady(error);
    this.#handlers.onError?.(error);
    this.#finish();
  }

  /** Stops delivery and tells the server. */
  unsubscribe(): void {
    if (this.ended) return;
    this.#release(this);
    this.#finish();
  }

  #finish(): void {
    this.ended = true;
    for (const it of this.#iterators) it.wake?.();
  }

  /** Iterates messages until unsubscribe; breaking out of the loop unsubscribes. */
  [Symbol.asyncIterator](): AsyncIterator<Message> {
    const it = { queue: [] as Message[], wake: undefined as (() => void) | undefined };
    this.#iterators.add(it);
    const done = (): IteratorResult<Message> => {
      this.#iterators.delete(it);
      return { done: true, value: undefined };
    };
    return {
      next: async () => {
        while (it.queue.length === 0 && !this.ended) await new Promise<void>((r) => (it.wake = r));
        it.wake = undefined;
        if (it.queue.length > 0) return { done: false, value: it.queue.shift() as Message };
        return done();
      },
      return: () => {
        this.unsubscribe();
        return Promise.resolve(done());
      },
    };
  }
}
