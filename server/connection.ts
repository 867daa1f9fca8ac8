/**
 * One client connection as the core sees it: the socket it writes to and every piece of state it owns.
 * @module
 */
import type { WireFrame } from "../shared/binary-frame.ts";
import { CloseCode } from "../shared/protocol.ts";
import { type BusyState, isClear, newBusyState } from "./busy-state.ts";
import { LazyAbort } from "./lazy-abort.ts";
import type { Outbox } from "./outbox.ts";
import { fitReason, type Socket } from "./socket.ts";
import { SubscriptionMap } from "./subscription-map.ts";
import { turnNow } from "./turn-clock.ts";

/** Milliseconds of a rate-limit refusal window: more than `rateBurst` refusals within one closes the socket with 1008. */
export const REFUSAL_WINDOW = 1000;

/** What every connection of one service shares: one object, rather than three fields on each connection. */
export interface ConnectionShared {
  /** Token bucket: refill per second and burst size. */
  rate: { perSecond: number; burst: number };
  /** The service's backpressure control (flow-control.ts): sends a frame, or queues it while the socket is backed up. */
  flow: { send(conn: Connection, frame: WireFrame): boolean } | undefined;
  /** The service's server-to-client calls, for `ctx.client`. */
  clientCalls: { caller(connectionId: string): unknown } | undefined;
}

/**
 * A connection's state; created by the service when an adapter opens a socket. Everything but what
 * every connection needs sits in one busy state (busy-state.ts) allocated on first write and let go when
 * it is all clear again (reads of an absent collection see a shared empty one), so an idle subscribed
 * connection holds only its subscriptions (bench/: memory per idle connection; at most 12 fields, the
 * two of its abort included, keep the object in Bun's 112-byte size class rather than the 160-byte one).
 * The connection is itself the abort its lifetime hooks' signal follows.
 * @internal
 */
export class Connection<A = unknown> extends LazyAbort {
  /** Random id announced in the hello frame. */
  readonly id: string;
  /** Live subscriptions by channel (`topic:key`). */
  readonly subscriptions: SubscriptionMap = new SubscriptionMap();
  /** When the last frame was received (`performance.now()` ms, turn-clock.ts); the heartbeat sweep reads it. */
  lastSeen: number = turnNow();
  #busy: BusyState<Outbox> | undefined;
  private tokens: number;
  private refilledAt = turnNow();

  /**
   * @param socket the adapter's socket
   * @param auth what authentication returned
   * @param ip the peer address, for per-IP limits and logs
   * @param shared what every connection of the service shares: rate limit, backpressure control, client calls
   */
  constructor(
    readonly socket: Socket,
    public auth: A,
    readonly ip: string,
    private readonly shared: ConnectionShared,
  ) {
    super();
    this.id = crypto.randomUUID();
    this.tokens = shared.rate.burst;
  }

  /** The service's backpressure control. */
  get flow(): ConnectionShared["flow"] {
    return this.shared.flow;
  }

  /** The service's server-to-client calls, for `ctx.client`. */
  get clientCalls(): { caller(connectionId: string): unknown } | undefined {
    return this.shared.clientCalls;
  }

  /** Calls running now, by request id. */
  get inflight(): ReadonlyMap<string | number, AbortController> {
    return this.#busy?.inflight ?? EMPTY_MAP;
  }

  /** Ids of subscribe, unsubscribe, publish and auth frames not answered yet (requests.ts). */
  get awaiting(): ReadonlySet<string | number> {
    return this.#busy?.awaiting ?? EMPTY_SET;
  }

  /** Per channel, the subscribe or unsubscribe still running there: the next one waits for it (requests.ts). */
  get channelWork(): ReadonlyMap<string, Promise<void>> {
    return this.#busy?.channelWork ?? EMPTY_MAP;
  }

  /** Rooms this connection is in. */
  get rooms(): ReadonlySet<string> {
    return this.#busy?.rooms ?? EMPTY_SET;
  }

  /** Frames held back while the socket is over its buffer limit; null while it keeps up (outbox.ts). */
  get outbox(): Outbox | null {
    return this.#busy?.outbox ?? null;
  }

  set outbox(outbox: Outbox | null) {
    if (outbox !== null) this.busy().outbox = outbox;
    else if (this.#busy !== undefined) (this.#busy.outbox = null, this.tidy());
  }

  /**
   * The code and reason the server closed this connection with (reported to `onDisconnect`); once
   * set, nothing more is read from the socket or written to it. Undefined while open or when the peer closed.
   */
  get closedWith(): { code: number; reason: string } | undefined {
    return this.#busy?.closedWith;
  }

  /** Aborted when the connection closes; the lifetime hooks' signal follows it (the connection itself). */
  get closed(): LazyAbort {
    return this;
  }

  /** Whether a connection holds its busy state now (tests); static: a prototype accessor costs each connection a slot on Bun. */
  static holdsBusyState<A>(conn: Connection<A>): boolean {
    return conn.#busy !== undefined;
  }

  /** Records a call in flight. */
  addCall(id: string | number, call: AbortController): void {
    (this.busy().inflight ??= new Map()).set(id, call);
  }

  /** Aborts every call in flight with one reason (each answers it, if it still can) and forgets them: the connection closed. */
  abortCalls(reason: unknown): void {
    for (const call of [...(this.#busy?.inflight?.values() ?? [])]) call.abort(reason);
    if (this.#busy !== undefined) (this.#busy.inflight = undefined, this.tidy());
  }

  /** Forgets a call in flight (answered, cancelled, timed out, or the connection closed). */
  deleteCall(id: string | number): void {
    const busy = this.#busy;
    if (busy?.inflight?.delete(id) === true && busy.inflight.size === 0) (busy.inflight = undefined, this.tidy());
  }

  /** Records a request awaiting its answer. */
  addAwaiting(id: string | number): void {
    (this.busy().awaiting ??= new Set()).add(id);
  }

  /** Forgets an answered request. */
  deleteAwaiting(id: string | number): void {
    const busy = this.#busy;
    if (busy?.awaiting?.delete(id) === true && busy.awaiting.size === 0) (busy.awaiting = undefined, this.tidy());
  }

  /** Records the work running on a channel; later work there waits for it. */
  setChannelWork(channel: string, work: Promise<void>): void {
    (this.busy().channelWork ??= new Map()).set(channel, work);
  }

  /** Forgets a channel's work once it is done, unless newer work replaced it. */
  endChannelWork(channel: string, work: Promise<void>): void {
    const busy = this.#busy;
    if (busy?.channelWork?.get(channel) !== work) return;
    busy.channelWork.delete(channel);
    if (busy.channelWork.size === 0) (busy.channelWork = undefined, this.tidy());
  }

  /** Notes a room this connection joined (rooms.ts keeps the other side). */
  addRoom(room: string): void {
    (this.busy().rooms ??= new Set()).add(room);
  }

  /** Notes a room this connection left. */
  deleteRoom(room: string): void {
    const busy = this.#busy;
    if (busy?.rooms?.delete(room) === true && busy.rooms.size === 0) (busy.rooms = undefined, this.tidy());
  }

  /** Whether the socket is still open from the core's point of view (false from the moment the server closes it). */
  get open(): boolean {
    const busy = this.#busy;
    return !this.aborted && (busy === undefined || (busy.closedWith === undefined && !busy.quiet));
  }

  /** Stops reading from and writing to the socket, so that what it has buffered can drain before {@link close} (shutdown). */
  quiesce(): void {
    this.busy().quiet = true;
  }

  /** Sends a frame (through the outbox while the socket is backed up); false when it was not sent and will not be. */
  send(frame: WireFrame): boolean {
    if (!this.open) return false;
    if (this.flow !== undefined) return this.flow.send(this, frame);
    return this.socket.send(frame) !== "dropped";
  }

  /** Closes the socket (the reason cut to what a close frame carries); the adapter's close event then calls the service's cleanup. */
  close(code: number = CloseCode.NORMAL, reason = ""): void {
    if (this.closedWith !== undefined || this.closed.aborted) return;
    // Frames sent after our close frame break the protocol, and frames read after it would start calls nobody hears.
    const closedWith = this.busy().closedWith = { code, reason: fitReason(reason) };
    this.socket.close(code, closedWith.reason);
  }

  /**
   * The rate limit's verdict on one frame: the token bucket admits it ("accepted"), or refuses it.
   * Refusals are counted per window of {@link REFUSAL_WINDOW} ms that starts at the first refusal;
   * accepted frames do not reset the count within the window, so a steady trickle of accepted frames
   * cannot hide a flood (the first accepted frame after the window lets the count go). The first
   * refusal of a window is "answered" (one error frame), the rest are "dropped", and the refusal
   * that takes the window past `burst` is "abusive" (the caller closes with 1008).
   */
  admit(now: number): "accepted" | "answered" | "dropped" | "abusive" {
    if (this.takeToken(now)) {
      const busy = this.#busy;
      if (busy !== undefined && busy.refused > 0 && now - busy.refusedSince >= REFUSAL_WINDOW) (busy.refused = 0, this.tidy());
      return "accepted";
    }
    const busy = this.busy();
    if (now - busy.refusedSince >= REFUSAL_WINDOW) {
      busy.refusedSince = now;
      busy.refused = 0;
    }
    busy.refused++;
    if (busy.refused > this.shared.rate.burst) return "abusive";
    return busy.refused === 1 ? "answered" : "dropped";
  }

  /** The busy state, allocated on first use. */
  private busy(): BusyState<Outbox> {
    return (this.#busy ??= newBusyState<Outbox>());
  }

  /** Lets the busy state go once all of it is clear (refusals counted in the current window keep it). */
  private tidy(): void {
    if (isClear(this.#busy!)) this.#busy = undefined;
  }

  /** Takes one token from the rate bucket; false when the connection is over its rate. */
  private takeToken(now: number): boolean {
    const { rate } = this.shared;
    if (rate.perSecond === Infinity) return true;
    this.tokens = Math.min(rate.burst, this.tokens + ((now - this.refilledAt) * rate.perSecond) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

const EMPTY_MAP: ReadonlyMap<never, never> = new Map<never, never>();
const EMPTY_SET: ReadonlySet<never> = new Set<never>();
