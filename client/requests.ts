/**
 * Requests awaiting an answer: calls, publishes and re-authentication share one path with a
 * timeout, cancellation, an in-flight map and a bounded offline queue.
 * @module
 */
import { RpcError } from "../shared/errors.ts";

/** How one request behaves. */
export interface RequestOptions {
  /** Milliseconds before it rejects with TIMEOUT. */
  timeout: number;
  /** Aborting it rejects with CANCELLED and, once sent, tells the server. */
  signal?: AbortSignal | undefined;
  /** Re-sent after a reconnect instead of rejecting with DISCONNECTED. */
  retry: boolean;
  /** Whether it may wait in the offline queue; otherwise it fails at once while disconnected. */
  queue: boolean;
  /** Names it in error messages, e.g. `Call "chat.send"`. */
  label: string;
}

interface Entry {
  id: number;
  frame: string;
  retry: boolean;
  resolve(value: unknown): void;
  reject(error: RpcError): void;
  cleanup(): void;
}

/** The client's requests: sent ones by id, unsent ones in order. */
export class Requests {
  private readonly sent = new Map<number, Entry>();
  private readonly queued: Entry[] = [];
  private lastId = 0;

  /**
   * @param send writes a frame; false when there is no open socket
   * @param wake asks for a connection (lazy mode, idle)
   * @param changed called whenever a request settles (lazy mode's idle timer listens)
   * @param queueSize most requests kept while disconnected
   */
  constructor(
    private readonly send: (frame: string) => boolean,
    private readonly wake: () => void,
    private readonly changed: () => void,
    private readonly queueSize: number,
  ) {}

  /** A fresh request id. */
  nextId(): number {
    return ++this.lastId;
  }

  /** Whether any request is waiting (sent or queued). */
  get busy(): boolean {
    return this.sent.size > 0 || this.queued.length > 0;
  }

  /** Sends a request (or queues it while disconnected) and resolves with its answer. */
  request(id: number, frame: string, options: RequestOptions): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted) return reject(new RpcError("CANCELLED", `${options.label} was aborted before it was sent`));
      const fail = (error: RpcError) => {
        const wasSent = this.sent.delete(id);
        const at = this.queued.indexOf(entry);
        if (at >= 0) this.queued.splice(at, 1);
        if (!wasSent && at < 0) return;
        entry.cleanup();
        if (wasSent) this.send(JSON.stringify({ type: "cancel", id }));
        reject(error);
        this.changed();
      };
      const onAbort = () => fail(new RpcError("CANCELLED", `${options.label} was cancelled`));
      const timer = setTimeout(() => fail(new RpcError("TIMEOUT", `${options.label} got no answer within ${options.timeout} ms`)), options.timeout);
      const entry: Entry = {
        id,
        frame,
        retry: options.retry,
        resolve,
        reject,
        cleanup() {
          clearTimeout(timer);
          options.signal?.removeEventListener("abort", onAbort);
        },
      };
      options.signal?.addEventListener("abort", onAbort, { once: true });
      if (this.transmit(entry)) return;
      if (!options.queue) return fail(new RpcError("DISCONNECTED", `${options.label} needs an open connection`));
      if (this.queued.length >= this.queueSize) {
        entry.cleanup();
        return reject(new RpcError("DISCONNECTED", `Offline queue is full (${this.queueSize} requests)`));
      }
      this.queued.push(entry);
      this.wake();
    });
  }

  /** Settles a sent request with its answer; false when no such request is waiting. */
  settle(id: string | number | null, outcome: { ok: true; value: () => unknown } | { ok: false; error: RpcError }): boolean {
    const entry = typeof id === "number" ? this.sent.get(id) : undefined;
    if (entry === undefined) return false;
    this.sent.delete(entry.id);
    entry.cleanup();
    if (!outcome.ok) entry.reject(outcome.error);
    else {
      try {
        entry.resolve(outcome.value());
      } catch {
        entry.reject(new RpcError("BAD_REQUEST", "The answer could not be decoded"));
      }
    }
    this.changed();
    return true;
  }

  /** Sends everything queued, in order (the connection is open). */
  flush(): void {
    for (const entry of this.queued.splice(0)) {
      if (!this.transmit(entry)) this.queued.push(entry);
    }
  }

  /** The socket died: requests marked retry go back to the front of the queue, the rest reject. */
  disconnected(): void {
    const retries: Entry[] = [];
    for (const entry of this.sent.values()) {
      if (entry.retry) retries.push(entry);
      else (entry.cleanup(), entry.reject(new RpcError("DISCONNECTED", "Connection lost before the answer came")));
    }
    this.sent.clear();
    this.queued.unshift(...retries);
  }

  /** Rejects every request (the client closed). */
  rejectAll(error: RpcError): void {
    for (const entry of [...this.sent.values(), ...this.queued.splice(0)]) (entry.cleanup(), entry.reject(error));
    this.sent.clear();
  }

  private transmit(entry: Entry): boolean {
    if (!this.send(entry.frame)) return false;
    this.sent.set(entry.id, entry);
    return true;
  }
}
