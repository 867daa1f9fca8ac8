/**
 * Requests awaiting an answer: calls, publishes and re-authentication share one path with a
 * timeout, cancellation, an in-flight map and a bounded offline queue.
 * @module
 */
import { oneMessage, type WireFrame } from "../shared/binary-frame.ts";
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

/** The outcome of a request as the server answered it. */
export type Answer = { ok: true; value: () => unknown } | { ok: false; error: RpcError };

/** The client's requests: sent ones by id, unsent ones in order. */
export interface Requests {
  /** A fresh request id. */
  nextId(): number;
  /** Whether any request is waiting (sent or queued). */
  busy(): boolean;
  /** Sends a request (or queues it while disconnected) and resolves with its answer. */
  request(id: number, frame: WireFrame, options: RequestOptions): Promise<unknown>;
  /** Settles a sent request with its answer; false when no such request is waiting. */
  settle(id: string | number | null, answer: Answer): boolean;
  /** Sends everything queued, in order (the connection is open). */
  flush(): void;
  /** The socket died: requests marked retry go back to the front of the queue, the rest reject. */
  disconnected(): void;
  /** Rejects every request (the client closed). */
  rejectAll(error: RpcError): void;
}

interface Entry {
  id: number;
  frame: WireFrame;
  retry: boolean;
  resolve(value: unknown): void;
  reject(error: RpcError): void;
  cleanup(): void;
}

/**
 * Creates the request book of one client.
 * @param send writes a frame; false when there is no open socket
 * @param wake asks for a connection (lazy mode, idle)
 * @param changed called whenever a request settles (lazy mode's idle timer listens)
 * @param queueSize most requests kept while disconnected
 */
export function createRequests(send: (frame: WireFrame) => boolean, wake: () => void, changed: () => void, queueSize: number): Requests {
  const sent = new Map<number, Entry>();
  const queued: Entry[] = [];
  let lastId = 0;

  const transmit = (entry: Entry): boolean => {
    if (!send(entry.frame)) return false;
    sent.set(entry.id, entry);
    // A split frame holds the caller's own bytes: one that may be sent again keeps a copy, as it was when first sent.
    if (entry.retry) entry.frame = oneMessage(entry.frame);
    return true;
  };

  return {
    nextId: () => ++lastId,
    busy: () => sent.size > 0 || queued.length > 0,
    request: (id, frame, options) =>
      new Promise((resolve, reject) => {
        const { label, signal } = options;
        const fail = (error: RpcError) => {
          const wasSent = sent.delete(id);
          const at = queued.indexOf(entry);
          if (at >= 0) queued.splice(at, 1);
          if (!wasSent && at < 0) return;
          entry.cleanup();
          // The server stops the handler too, whether we gave up waiting or the caller aborted.
          if (wasSent) send(JSON.stringify({ type: "cancel", id }));
          reject(error);
          changed();
        };
        const onAbort = () => fail(new RpcError("CANCELLED", `${label} was cancelled`));
        const timer = setTimeout(() => fail(new RpcError("TIMEOUT", `${label} got no answer within ${options.timeout} ms`)), options.timeout);
        const entry: Entry = {
          id,
          frame,
          retry: options.retry,
          resolve,
          reject,
          cleanup() {
            clearTimeout(timer);
            signal?.removeEventListener("abort", onAbort);
          },
        };
        if (signal?.aborted) return (entry.cleanup(), reject(new RpcError("CANCELLED", `${label} was cancelled`)));
        signal?.addEventListener("abort", onAbort, { once: true });
        if (transmit(entry)) return;
        // Neither sent nor queued: rejected here (`fail` settles only what was sent or queued).
        if (!options.queue) return (entry.cleanup(), reject(new RpcError("DISCONNECTED", `${label} needs an open connection`)));
        if (queued.length >= queueSize) return (entry.cleanup(), reject(new RpcError("DISCONNECTED", `Offline queue is full (${queueSize} requests)`)));
        // Kept for later: a split frame as a copy of its own (its attachments are the caller's bytes).
        entry.frame = oneMessage(frame);
        queued.push(entry);
        wake();
      }),
    settle(id, answer) {
      const entry = typeof id === "number" ? sent.get(id) : undefined;
      if (entry === undefined) return false;
      sent.delete(entry.id);
      entry.cleanup();
      if (!answer.ok) entry.reject(answer.error);
      else {
        try {
          entry.resolve(answer.value());
        } catch {
          entry.reject(new RpcError("BAD_REQUEST", "The answer could not be decoded"));
        }
      }
      changed();
      return true;
    },
    flush() {
      for (const entry of queued.splice(0)) if (!transmit(entry)) queued.push(entry);
    },
    disconnected() {
      const retries: Entry[] = [];
      for (const entry of sent.values()) {
        if (entry.retry) retries.push(entry);
        else (entry.cleanup(), entry.reject(new RpcError("DISCONNECTED", "Connection lost before the answer came")));
      }
      sent.clear();
      queued.unshift(...retries);
    },
    rejectAll(error) {
      for (const entry of [...sent.values(), ...queued.splice(0)]) (entry.cleanup(), entry.reject(error));
      sent.clear();
    },
  };
}
