/**
 * A minimal Engine.IO v4 long-polling client shaped like a WebSocket, so the Socket.IO driver can
 * speak Socket.IO's polling transport (`transports: ["polling"]`) to the same scenarios: one GET
 * held open at a time for server packets, POSTs for client packets (one at a time, batched),
 * packets separated by the record separator (0x1e) as Engine.IO v4 does.
 * @module
 */

const SEPARATOR = "\x1e";

/** One Engine.IO polling session. */
export class PollingSocket {
  readyState = 0;
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  readonly #abort = new AbortController();
  #url: string;
  #queue: string[] = [];
  #posting = false;

  /** @param url `http://host:port/socket.io/?EIO=4&transport=polling` */
  constructor(url: string) {
    this.#url = url;
    void this.#poll();
  }

  send(packet: string): void {
    if (this.readyState !== 1) return;
    this.#queue.push(packet);
    if (!this.#posting) void this.#post();
  }

  close(): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.#abort.abort();
    fetch(this.#url, { method: "POST", body: "1", headers: { "content-type": "text/plain;charset=UTF-8" } }).catch(() => {});
    this.onclose?.();
  }

  async #poll(): Promise<void> {
    try {
      while (this.readyState < 2) {
        const response = await fetch(this.#url, { signal: this.#abort.signal });
        if (!response.ok) throw new Error(`poll answered ${response.status}`);
        const packets = (await response.text()).split(SEPARATOR);
        for (const packet of packets) {
          if (this.readyState === 0 && packet.startsWith("0{")) {
            this.#url += `&sid=${(JSON.parse(packet.slice(1)) as { sid: string }).sid}`;
            this.readyState = 1;
            this.onopen?.();
          }
          if (packet === "1") return this.close();
          if (packet !== "6") this.onmessage?.({ data: packet });
        }
      }
    } catch {
      if (this.readyState < 2) (this.onerror?.(), this.close());
    }
  }

  async #post(): Promise<void> {
    this.#posting = true;
    while (this.#queue.length > 0 && this.readyState === 1) {
      const body = this.#queue.splice(0).join(SEPARATOR);
      try {
        const response = await fetch(this.#url, { method: "POST", body, headers: { "content-type": "text/plain;charset=UTF-8" }, signal: this.#abort.signal });
        await response.text();
      } catch {
        if (this.readyState === 1) (this.onerror?.(), this.close());
      }
    }
    this.#posting = false;
  }
}
