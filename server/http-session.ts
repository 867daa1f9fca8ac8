/**
 * One HTTP fallback session as the core sees it: a {@link Socket} whose frames go down one
 * long-lived streaming response, one JSON frame per line, and whose client frames arrive in POST
 * bodies numbered by the client. The core cannot tell it from a WebSocket.
 * @module
 */
import { fromLine, toLine, type WireFrame } from "../shared/binary-frame.ts";
import type { SendResult, Socket } from "./socket.ts";

const encoder = new TextEncoder();

/** Bytes the response stream holds before the runtime must read them; past it sends report "queued". */
const STREAM_HIGH_WATER = 64 * 1024;

/** Counts a stream's backlog in bytes: one strategy (and its size function) shared by every session. */
const BY_BYTES = new ByteLengthQueuingStrategy({ highWaterMark: STREAM_HIGH_WATER });

/** POST bodies that may wait for an earlier one (forwarded through Redis, they can overtake each other). */
export const MAX_EARLY_POSTS = 32;

/** What a session tells the transport that owns it. */
export interface SessionEvents {
  /** The runtime read from the stream: the core may flush an outbox. */
  drain(): void;
  /** The stream ended (closed by the server with `code`, or abandoned by the client: 1006). */
  ended(code: number): void;
  /** A client frame, in the order the client sent it. */
  frame(frame: string | Uint8Array): void;
}

/** How a numbered POST body was taken. */
export type Accepted = "accepted" | "duplicate" | "too-early";

/** A session: the stream out, numbered POST bodies in. */
export class HttpSession implements Socket {
  /** The response body: NDJSON, one server frame per line, a close record last. */
  readonly body: ReadableStream<Uint8Array>;
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  private ended = false;
  private released = false;
  /** Lines sent in the current task, written as one chunk at its end. */
  private pending = "";
  /** Sequence number of the next POST body to run. */
  private next = 0;
  /** Bodies that arrived before their predecessors, by sequence number; created on the first (most sessions never see one). */
  private early: Map<number, string> | undefined;

  /**
   * @param token the session's secret id (the client names it in every POST)
   * @param events where stream and frame events go
   */
  constructor(readonly token: string, private readonly events: SessionEvents) {
    this.body = new ReadableStream<Uint8Array>({
      start: (controller) => void (this.controller = controller),
      pull: () => void (this.ended || events.drain()),
      // The client went away (aborted its fetch, or the network dropped it).
      cancel: () => this.finish(1006),
    }, BY_BYTES);
  }

  /** Whether the stream has ended. */
  get closed(): boolean {
    return this.ended;
  }

  send(frame: WireFrame): SendResult {
    if (this.ended) return "written";
    // Frames sent in one task leave as one chunk: each chunk costs the runtime a write and a flush.
    if (this.pending === "") queueMicrotask(this.flush);
    this.pending += `${toLine(frame)}\n`;
    // Like Deno's sockets: always queued; flow control reads the backlog from bufferedAmount().
    return "queued";
  }

  close(code: number, reason: string): void {
    if (this.ended) return;
    // The stream has no close frame of its own: its last line says how and why it ended.
    this.pending += `${JSON.stringify({ type: "close", code, reason })}\n`;
    if (!this.write()) return;
    this.ended = true;
    try {
      this.controller!.close();
    } catch {
      // Deno can end the stream between the enqueue and the close (seen during server.stop()): it is over either way.
    }
    // Released from the next task, as a WebSocket's close event would be (close may run inside a dispatch).
    setTimeout(() => this.finish(code), 0);
  }

  bufferedAmount(): number {
    if (this.ended || this.controller === undefined) return 0;
    return this.pending.length + Math.max(0, STREAM_HIGH_WATER - (this.controller.desiredSize ?? 0));
  }

  /**
   * Takes POST body number `seq`: runs it now if it is the next one (then any early ones it
   * unblocks), ignores one already run (a retry), or keeps it until its predecessors arrive.
   */
  accept(seq: number, body: string): Accepted {
    if (seq < this.next) return "duplicate";
    if (seq > this.next) {
      this.early ??= new Map();
      if (this.early.has(seq)) return "duplicate";
      if (this.early.size >= MAX_EARLY_POSTS) return "too-early";
      this.early.set(seq, body);
      return "accepted";
    }
    let text: string | undefined = body;
    while (text !== undefined && !this.ended) {
      this.next++;
      for (const line of text.split("\n")) if (line.trim() !== "") this.events.frame(fromLine(line));
      text = this.early?.get(this.next);
      this.early?.delete(this.next);
    }
    return "accepted";
  }

  /** Writes what the current task sent (queued by {@link send}). */
  private readonly flush = (): void => void (this.ended || this.write());

  /**
   * Enqueues the pending lines as one chunk; false, and the session ends as abandoned (1006), when
   * the runtime closed or errored the stream without its cancel callback having run yet (a client
   * gone mid-write).
   */
  private write(): boolean {
    const lines = this.pending;
    this.pending = "";
    if (lines === "") return true;
    try {
      this.controller!.enqueue(encoder.encode(lines));
      return true;
    } catch {
      // Released from the next task, like close: a write may run inside a dispatch.
      this.ended = true;
      setTimeout(() => this.finish(1006), 0);
      return false;
    }
  }

  private finish(code: number): void {
    this.ended = true;
    this.pending = "";
    this.early = undefined;
    if (this.released) return;
    this.released = true;
    this.events.ended(code);
  }
}
