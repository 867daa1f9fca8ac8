/**
 * Liveness: one sweep timer over every connection, never a timer per connection. The server's side
 * of the heartbeat is a one-way beat (PROTOCOL.md section 6): an unsolicited `pong` once per interval,
 * sent by one native publish where the runtime has one (Bun). Tether's client answers it with a beat
 * of its own, which the server notes and never answers.
 * @module
 */
import { BEAT, DEFAULT_TIMING } from "../shared/heartbeat.ts";
import { CloseCode } from "../shared/protocol.ts";
import { BeatSchedule, slicesOf } from "./beat-schedule.ts";
import type { Connection } from "./connection.ts";

/** Heartbeat timing, announced to clients in the hello frame. */
export interface HeartbeatOptions {
  /** Milliseconds between beats; under the 60 s idle cut of common proxies. @default 25000 */
  interval: number;
  /** Milliseconds without any frame after which a peer is dead. @default 45000 */
  timeout: number;
}

/** The defaults of {@link HeartbeatOptions}. */
export const DEFAULT_HEARTBEAT: HeartbeatOptions = { ...DEFAULT_TIMING };

/** Sent only to a peer silent for longer than {@link Heartbeat.pingAfter}: a client that only answers pings still answers it. */
const PING = JSON.stringify({ type: "ping" });

/** The native channel of one slice's beat (a NUL never starts a topic's channel name). */
function beatChannel(slice: number): string {
  return `\u0000beat${slice}`;
}

/**
 * Liveness for every connection with one timer: it sweeps about every `min(interval, timeout / 20)`
 * ms (an exact fraction of the interval), closes (4000) the connections silent for longer than the
 * timeout, pings (once per silence) a connection silent for longer than {@link Heartbeat.pingAfter},
 * and beats the connections a slice at a time: each connection once per interval, spread over the
 * sweeps (a beat is a write per socket, about 10 µs of server CPU on loopback: 20,000 at once would
 * stall the event loop for some 200 ms). The slices take their turns by the clock, not by the count of
 * sweeps: a sweep that runs late (an overloaded event loop) also beats the slices whose turn came
 * meanwhile, so beats stay about one interval apart (late by at most the sweep's own delay, early by
 * at most half a period). A silent peer is closed between `timeout` and `timeout × 1.05` ms after
 * its last frame (plus the event loop's delay), not up to a whole interval late.
 */
export class Heartbeat<A = unknown> {
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Which slices each sweep beats (beat-schedule.ts). */
  private readonly schedule: BeatSchedule;
  /** Sockets that joined a native beat channel: the next one joins slice `joined % slices`. */
  private joined = 0;
  /** The `lastSeen` of each connection when it was last pinged: one ping per silence, no work per received frame. */
  private readonly pinged = new WeakMap<Connection<A>, number>();
  /**
   * Beats every socket of a slice's native channel with one call (Bun's `server.publish`); set by
   * adapters whose sockets have native channels. Without it, or for a socket without `subscribe`
   * (HTTP fallback sessions), the sweep sends the beat to each connection of the slice itself.
   */
  nativeBeat: ((channel: string, frame: string) => void) | undefined;

  /**
   * @param options timing
   * @param connections the live connections, read at each sweep
   * @param release frees what a dead connection holds, without waiting for the runtime's close event
   *   (a close handshake with a half-open peer never completes, so that event may come late or never)
   * @param clock the monotonic clock in ms that `lastSeen` is read on (tests pass their own). @default performance.now
   */
  constructor(
    readonly options: HeartbeatOptions,
    private readonly connections: ReadonlyMap<string, Connection<A>>,
    private readonly release: (conn: Connection<A>) => void = () => {},
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.schedule = new BeatSchedule(this.slices, this.period);
  }

  /** Sweeps per interval, each beating one slice of the connections. */
  get slices(): number {
    return slicesOf(this.options);
  }

  /** Milliseconds between sweeps: at most `min(interval, timeout / 20)`, and a whole fraction of the interval. */
  get period(): number {
    return this.options.interval / this.slices;
  }

  /**
   * Milliseconds of silence after which the sweep pings a connection: halfway from the interval to the
   * timeout. A Tether client sends a frame every interval, so it is never pinged; a client that only
   * answers pings has the other half to answer.
   */
  get pingAfter(): number {
    return (this.options.interval + this.options.timeout) / 2;
  }

  /** A connection opened: it joins a slice's native beat channel where there is one, and the sweep runs. */
  watch(conn: Connection<A>): void {
    if (this.nativeBeat !== undefined) conn.socket.subscribe?.(beatChannel(this.joined++ % this.slices));
    this.start();
  }

  /** Starts sweeping if it is not already. */
  start(): void {
    if (this.timer !== undefined) return;
    this.schedule.start(this.clock());
    this.timer = setInterval(() => this.sweep(this.clock()), this.period);
  }

  /** Stops sweeping (called when the last connection closes, and on shutdown). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass: close the silent, ping the long quiet, beat the slices whose turn came since the last pass. */
  sweep(now: number): void {
    const slices = this.slices;
    const { first, count } = this.schedule.due(now);
    const due = (slice: number) => (slice - first + slices) % slices < count;
    const native = this.nativeBeat;
    const { timeout } = this.options;
    const pingAfter = this.pingAfter;
    // Without a native channel, a connection's slice is its place in the map: closes before it only move
    // it to an earlier slice, so its next beat may come early, never late.
    let place = 0;
    for (const conn of this.connections.values()) {
      const silent = now - conn.lastSeen;
      if (silent > timeout) {
        conn.close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout");
        this.release(conn);
      } else if (silent > pingAfter && this.pinged.get(conn) !== conn.lastSeen) {
        this.pinged.set(conn, conn.lastSeen);
        conn.send(PING);
      } else if ((native === undefined || conn.socket.subscribe === undefined) && due(place % slices)) conn.send(BEAT);
      place++;
    }
    if (native !== undefined) for (let i = 0; i < count; i++) native(beatChannel((first + i) % slices), BEAT);
  }
}
