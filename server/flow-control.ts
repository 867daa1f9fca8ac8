/**
 * Backpressure: a socket whose runtime buffer passes the limit gets an outbox in the core. While
 * it has one, every frame for it waits there; once the outbox itself passes the limit, the topic's
 * slow-consumer policy decides what to drop (answers are never dropped). The outbox is flushed on
 * Bun's drain event, before each new frame, and by one sweep while any connection is slow (Deno
 * has no drain event). Healthy sockets never allocate: a frame goes straight to `socket.send`.
 * @module
 */
import { SplitFrame, type WireFrame } from "../shared/binary-frame.ts";
import type { SlowConsumerPolicy } from "../shared/contract.ts";
import { CloseCode } from "../shared/protocol.ts";
import type { Connection } from "./connection.ts";
import { Outbox, type Waiting } from "./outbox.ts";

/** What flow control reports to the service. */
export interface FlowEvents {
  /** Event frames of `topic` dropped for a slow connection. */
  dropped(conn: Connection, topic: string, count: number): void;
  /** A slow connection was closed with 4008 (its close frame may wait behind data it never reads). */
  disconnected(conn: Connection, reason: string): void;
  /** A connection went slow (true) or caught up (false); native publish must skip it meanwhile. */
  changed(conn: Connection, slow: boolean): void;
}

/** Milliseconds between flush attempts while any connection is slow. */
export const FLUSH_INTERVAL = 25;

/** Backpressure for every connection of a service: one set of slow connections, one sweep timer. */
export class FlowControl {
  private readonly slowSet = new Set<Connection>();
  private timer: ReturnType<typeof setInterval> | undefined;

  /**
   * @param limit characters a socket may have buffered (runtime buffer, then outbox) before the policy applies
   * @param policyOf the slow-consumer policy of a topic
   * @param events what to report
   */
  constructor(
    private readonly limit: number,
    private readonly policyOf: (topic: string) => SlowConsumerPolicy,
    private readonly events: FlowEvents,
  ) {}

  /** Connections with an outbox now. */
  get slow(): ReadonlySet<Connection> {
    return this.slowSet;
  }

  /** Frames waiting in every outbox. */
  get queued(): number {
    let n = 0;
    for (const conn of this.slowSet) n += conn.outbox?.frames.length ?? 0;
    return n;
  }

  /**
   * Sends a frame to a connection, or queues it when the socket is backed up.
   * @param topic the topic of an event frame; undefined for answers, which are never dropped
   * @param channel the topic instance of an event frame
   * @returns false when the frame was dropped (by policy, or because the connection closed)
   */
  send(conn: Connection, frame: WireFrame, topic?: string, channel?: string): boolean {
    if (!conn.open) return false;
    // A connection that was backed up may have caught up since the last sweep: try to empty its outbox first.
    if (conn.outbox !== null) this.flush(conn);
    if (conn.outbox === null) {
      const sent = conn.socket.send(frame);
      if (sent === "written") return true;
      if (sent === "queued") {
        if (conn.socket.bufferedAmount() > this.limit) this.goSlow(conn);
        return true;
      }
      this.goSlow(conn);
    }
    return this.enqueue(conn, { frame, topic, channel });
  }

  /**
   * Sends a volatile frame only if the socket is ready: no outbox and at most `limit` buffered.
   * @returns false when the frame was dropped (never queued)
   */
  offer(conn: Connection, frame: WireFrame): boolean {
    if (!conn.open || conn.outbox !== null || conn.socket.bufferedAmount() > this.limit) return false;
    const sent = conn.socket.send(frame);
    if (sent === "queued" && conn.socket.bufferedAmount() > this.limit) this.goSlow(conn);
    return sent !== "dropped";
  }

  /** Checks a connection that native publish may have backed up (Bun reported backpressure). */
  check(conn: Connection): void {
    if (conn.outbox === null && conn.open && conn.socket.bufferedAmount() > this.limit) this.goSlow(conn);
  }

  /** Writes waiting frames while the socket has room; ends the outbox when it is empty. */
  flush(conn: Connection): void {
    const box = conn.outbox;
    if (box === null) return;
    if (!conn.open) return this.release(conn);
    let i = 0;
    while (i < box.frames.length && conn.socket.bufferedAmount() <= this.limit / 2) {
      const waiting = box.frames[i]!;
      if (conn.socket.send(waiting.frame) === "dropped") break;
      box.chars -= waiting.frame.length;
      i++;
    }
    box.frames.splice(0, i);
    // Caught up only once the runtime's own buffer is low too, not merely because the outbox is empty.
    if (box.frames.length === 0 && conn.socket.bufferedAmount() <= this.limit / 2) {
      this.release(conn);
      this.events.changed(conn, false);
    }
  }

  /** Forgets a connection (closed, or caught up). */
  release(conn: Connection): void {
    conn.outbox = null;
    this.slowSet.delete(conn);
    if (this.slowSet.size === 0) this.stop();
  }

  /** Stops the sweep (shutdown). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private goSlow(conn: Connection): void {
    conn.outbox = new Outbox();
    this.slowSet.add(conn);
    this.events.changed(conn, true);
    this.timer ??= setInterval(() => {
      for (const c of [...this.slowSet]) this.flush(c);
    }, FLUSH_INTERVAL);
  }

  /**
   * Queues a frame. Policies apply only once the outbox itself holds more than `limit` characters,
   * so a burst (Deno buffers a whole tick's sends) does not cost a fast client anything: then
   * "disconnect" closes with 4008, "keep-latest" replaces older frames of the same topic instance,
   * and "drop-oldest" (and keep-latest, if still over) drops the oldest event frames.
   */
  private enqueue(conn: Connection, waiting: Waiting): boolean {
    const box = conn.outbox!;
    // A split frame's attachments are the sender's own bytes: a frame that waits keeps a copy, as it was when sent.
    if (waiting.frame instanceof SplitFrame) waiting.frame = waiting.frame.packed();
    box.frames.push(waiting);
    box.chars += waiting.frame.length;
    if (box.chars <= this.limit) return true;
    const policy = waiting.topic === undefined ? undefined : this.policyOf(waiting.topic);
    if (policy === "disconnect") return this.disconnect(conn, waiting.topic!, "slow consumer");
    if (policy === "keep-latest") {
      for (let i = box.frames.length - 2; i >= 0; i--) {
        const old = box.frames[i]!;
        if (old.channel === waiting.channel && old.topic === waiting.topic) this.drop(conn, box, i);
      }
    }
    while (box.chars > this.limit) {
      const oldest = box.frames.findIndex((w) => w.topic !== undefined);
      if (oldest < 0) return this.disconnect(conn, "", "slow consumer");
      const gone = box.frames[oldest]!;
      if (this.policyOf(gone.topic!) === "disconnect") return this.disconnect(conn, gone.topic!, "slow consumer");
      this.drop(conn, box, oldest);
      if (gone === waiting) return false;
    }
    return true;
  }

  private drop(conn: Connection, box: Outbox, index: number): void {
    const [gone] = box.frames.splice(index, 1);
    box.chars -= gone!.frame.length;
    this.events.dropped(conn, gone!.topic!, 1);
  }

  private disconnect(conn: Connection, topic: string, reason: string): false {
    if (topic !== "") this.events.dropped(conn, topic, 1);
    this.release(conn);
    conn.close(CloseCode.SLOW_CONSUMER, reason);
    this.events.disconnected(conn, reason);
    return false;
  }
}
