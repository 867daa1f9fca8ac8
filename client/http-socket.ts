/**
 * The client end of the HTTP fallback transport, shaped like a WebSocket so the client cannot tell
 * them apart: frames in from one streaming `fetch` (one JSON frame per line), frames out in
 * numbered POSTs, one at a time, batching what was sent meanwhile. Binary frames travel as a JSON
 * string of their base64 (a line of its own). PROTOCOL.md, "HTTP fallback".
 * Browser-safe: fetch, ReadableStream, TextDecoder, AbortController only.
 * @module
 */
import { fromLine, toLine } from "../shared/binary-frame.ts";

/** POSTs retried after a network failure (same sequence number: the server runs each body once). */
const POST_RETRIES = 3;

/** Characters batched into one POST (a single bigger frame goes alone). */
const BATCH_CHARS = 64 * 1024;

/**
 * A close as a WebSocket reports it.
 * @internal
 */
interface Closing {
  code: number;
  reason: string;
}

/** The HTTP endpoint of a WebSocket URL: `ws://host/ws?x` → `http://host/ws/http?x`. */
export function fallbackUrl(url: string): URL {
  const u = new URL(url);
  u.protocol = u.protocol === "wss:" ? "https:" : u.protocol === "ws:" ? "http:" : u.protocol;
  u.pathname = `${u.pathname.replace(/\/$/, "")}/http`;
  return u;
}

/** A session of the HTTP fallback transport, with the members of WebSocket the client uses. */
export class HttpSocket {
  /** 0 connecting, 1 open (stream answered), 3 closed; as WebSocket's. */
  readyState = 0;
  /** Called once the stream is answered (as WebSocket's `onopen`). */
  onopen: (() => void) | null = null;
  /** Called with each frame the server sent (as WebSocket's `onmessage`). */
  onmessage: ((event: { data: string | ArrayBuffer }) => void) | null = null;
  /** Called once when the session ends, with its close code and reason (as WebSocket's `onclose`). */
  onclose: ((event: Closing) => void) | null = null;
  /** Called when the transport fails (as WebSocket's `onerror`). */
  onerror: (() => void) | null = null;
  readonly #abort = new AbortController();
  readonly #endpoint: string;
  #token = "";
  #seq = 0;
  #queue: string[] = [];
  #posting = false;

  /**
   * Opens the stream at once.
   * @param url the WebSocket URL the client was given (query included)
   * @param protocol the subprotocol, sent as `?protocol=`
   */
  constructor(url: string, protocol: string) {
    const u = fallbackUrl(url);
    this.#endpoint = `${u.origin}${u.pathname}`;
    u.searchParams.set("protocol", protocol);
    void this.#read(u.href);
  }

  /** Characters waiting to be posted. */
  get bufferedAmount(): number {
    let n = 0;
    for (const frame of this.#queue) n += frame.length;
    return n;
  }

  /** Queues a frame (a binary one as its base64 line); it leaves with the next POST. */
  send(frame: string | Uint8Array<ArrayBuffer>): void {
    if (this.readyState !== 1) return;
    this.#queue.push(toLine(frame));
    if (!this.#posting) void this.#post();
  }

  /** Ends the session: the stream is dropped and the server told (DELETE), without waiting. */
  close(_code?: number, _reason?: string): void {
    if (this.readyState === 3) return;
    const token = this.#token;
    this.readyState = 3;
    this.#abort.abort();
    if (token !== "") fetch(this.#endpoint, { method: "DELETE", headers: { "tether-session": token }, keepalive: true }).catch(() => {});
  }

  async #read(href: string): Promise<void> {
    let response: Response;
    try {
      response = await fetch(href, { signal: this.#abort.signal, cache: "no-store", headers: { accept: "application/x-ndjson" } });
    } catch {
      return this.#end(1006, "stream failed");
    }
    if (!response.ok || response.body === null) {
      const { status } = response;
      // Refused credentials end like a refused WebSocket handshake (4401 / 4403, the server's words as reason).
      if (status === 401 || status === 403) {
        const refusal = await response.json().catch(() => ({})) as { error?: string };
        return this.#end(status + 4000, refusal.error ?? `HTTP ${status}`);
      }
      const retry = Number(response.headers.get("retry-after") ?? NaN) * 1000;
      void response.body?.cancel().catch(() => {});
      return this.#end(status === 503 ? 1013 : 1006, Number.isFinite(retry) ? `retry=${retry}` : `HTTP ${status}`);
    }
    this.#token = response.headers.get("tether-session") ?? "";
    if (this.readyState !== 0) return void response.body.cancel().catch(() => {});
    this.readyState = 1;
    this.onopen?.();
    // Decoded here rather than through a TextDecoderStream: one stream stage less per chunk.
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let rest = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const lines = (rest + decoder.decode(value, { stream: true })).split("\n");
        rest = lines.pop()!;
        for (const line of lines) {
          if (this.readyState === 3) return;
          // The stream's last line is the transport's close record; every other line is a protocol frame.
          if (line.startsWith('{"type":"close"')) {
            const { code, reason } = JSON.parse(line) as Closing;
            return this.#end(code, reason);
          }
          if (line === "") continue;
          const frame = fromLine(line);
          this.onmessage?.({ data: typeof frame === "string" ? frame : frame.buffer });
        }
      }
    } catch {
      // The stream broke (network, abort): reported below as an abnormal close.
    }
    this.#end(1006, "stream ended");
  }

  async #post(): Promise<void> {
    this.#posting = true;
    while (this.#queue.length > 0 && this.readyState === 1) {
      let chars = 0;
      let n = 0;
      while (n < this.#queue.length && (n === 0 || chars + this.#queue[n]!.length <= BATCH_CHARS)) chars += this.#queue[n++]!.length;
      const body = this.#queue.splice(0, n).join("\n");
      const seq = String(this.#seq++);
      let status = 0;
      for (let attempt = 0; attempt < POST_RETRIES && status === 0 && this.readyState === 1; attempt++) {
        try {
          const response = await fetch(this.#endpoint, {
            method: "POST",
            body,
            signal: this.#abort.signal,
            headers: { "content-type": "application/json", "tether-session": this.#token, "tether-seq": seq },
          });
          status = response.status;
          void response.body?.cancel().catch(() => {});
        } catch {
          await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
        }
      }
      // A refused or lost POST means frames are gone: end the session so the client recovers as after any drop.
      if (status < 200 || status >= 300) this.#end(1006, status === 0 ? "POST failed" : `POST answered ${status}`);
    }
    this.#posting = false;
  }

  #end(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.close();
    this.onclose?.({ code, reason });
  }
}
