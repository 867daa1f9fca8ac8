/**
 * What both adapters take and return, so `server.ts` and tests treat them alike.
 * @module
 */

/** Where and how an adapter listens. */
export interface ServeOptions {
  /** TCP port; 0 picks a free one. @default 8080 */
  port?: number;
  /** Interface to bind. @default "127.0.0.1" */
  hostname?: string;
  /** Answers requests that are not the socket path or `/healthz` (demo page, documents). @default 404 */
  fetch?: (request: Request) => Response | Promise<Response>;
}

/** A listening server. */
export interface RunningServer {
  /** The port actually bound (useful with port 0). */
  port: number;
  /** The WebSocket URL of the first socket path, e.g. `ws://127.0.0.1:8080/ws`. */
  url: string;
  /** Closes every socket with 1001 and a retry hint, stops the broker, then stops listening. */
  stop(retryAfterMs?: number): Promise<void>;
}
