/**
 * Opens load-generator sockets: one, or many in bounded parallel batches, each past its handshake.
 * @module
 */
import type { Driver } from "./drivers.ts";

/** A socket past its handshake; `onFrame` receives every later frame that is not a control frame. */
export interface Link {
  ws: WebSocket;
  send(frame: string): void;
  onFrame: (frame: string) => void;
  /** Set when the server closed the socket. */
  closed: boolean;
  /** The close code, once closed. */
  closeCode?: number;
}

/** Opens one socket and resolves once the driver's handshake is done (10 s at most). */
export function connect(driver: Driver, port: number): Promise<Link> {
  const ws = driver.open?.(driver.url(port), driver.protocol) ??
    (driver.protocol === undefined ? new WebSocket(driver.url(port)) : new WebSocket(driver.url(port), driver.protocol));
  const send = (frame: string) => ws.send(frame);
  const link: Link = { ws, send, onFrame: () => {}, closed: false };
  return new Promise<Link>((resolve, reject) => {
    let ready = false;
    // A socket given up on is closed, so it cannot open later and count on the server unseen.
    const timer = setTimeout(() => (ws.close(), reject(new Error(`No handshake from ${driver.url(port)} within 10 s`))), 10_000);
    const done = () => {
      ready = true;
      clearTimeout(timer);
      resolve(link);
    };
    ws.onopen = () => {
      if (driver.ready("", true)) done();
    };
    ws.onmessage = (event) => {
      const frame = event.data as string;
      if (driver.control(frame, send)) {
        if (!ready && driver.ready(frame, false)) done();
        return;
      }
      if (!ready) {
        if (driver.ready(frame, false)) done();
        return;
      }
      link.onFrame(frame);
    };
    ws.onerror = () => {
      if (!ready) (clearTimeout(timer), reject(new Error(`Cannot open ${driver.url(port)}`)));
    };
    ws.onclose = (event) => {
      link.closed = true;
      link.closeCode = event.code;
    };
  });
}

/** Opens `count` sockets, `batch` handshakes at a time, so the listen backlog never overflows. */
export async function connectMany(driver: Driver, port: number, count: number, batch = 100): Promise<Link[]> {
  const links: Link[] = [];
  for (let i = 0; i < count; i += batch) {
    links.push(...await Promise.all(Array.from({ length: Math.min(batch, count - i) }, () => connect(driver, port))));
  }
  return links;
}

/** Subscribes every link to `feed` and resolves when all confirmed (rejects after `ms`). */
export function subscribeAll(driver: Driver, links: Link[], ms = 20_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let pending = links.length;
    if (pending === 0) return resolve();
    const timer = setTimeout(() => reject(new Error(`${pending} of ${links.length} subscriptions unconfirmed after ${ms} ms`)), ms);
    links.forEach((link, i) => {
      link.onFrame = (frame) => {
        if (!driver.isSubscribed(frame)) return;
        link.onFrame = () => {};
        if (--pending === 0) (clearTimeout(timer), resolve());
      };
      link.send(driver.subscribe(i + 1));
    });
  });
}

/** Closes every link. */
export function closeAll(links: Link[]): void {
  for (const link of links) if (link.ws.readyState < 2) link.ws.close();
}
