/**
 * The options a client and each of its calls take.
 * @module
 */
import type { ContractTree } from "../shared/contract.ts";
import type { ClientSide } from "../shared/contract-types.ts";
import type { RpcError } from "../shared/errors.ts";
import type { Implementations } from "./implementations.ts";
import type { BackoffOptions } from "./reconnect.ts";

/** Per-call options. */
export interface CallOptions {
  /** Milliseconds before the call rejects with TIMEOUT. @default the client's `timeout` */
  timeout?: number;
  /** Aborting it cancels the call (the server's handler sees its signal abort). */
  signal?: AbortSignal;
  /** Safe to run twice: re-sent after a reconnect with the same idempotency key. @default false */
  retry?: boolean;
}

/** Client settings for a contract `C`; every field has a documented default. */
export interface ClientOptions<C extends ContractTree = ContractTree> {
  /**
   * The procedures of the contract's `client` section that the server calls on this client (`ctx.client.confirm(input)`),
   * every one of them when given; a client without them answers such calls NOT_FOUND. @default none
   */
  implement?: Implementations<ClientSide<C>>;
  /** Default per-call timeout in milliseconds. @default 30000 */
  timeout?: number;
  /** Reconnect backoff, or false to never reconnect. @default DEFAULT_BACKOFF */
  reconnect?: Partial<BackoffOptions> | false;
  /** Query parameters sent with every (re)connect (e.g. a fresh token); may be async. */
  params?: () => Record<string, string> | Promise<Record<string, string>>;
  /** Connect on first use and close after this many idle milliseconds; false connects at once. @default false */
  lazy?: false | { idleMs: number };
  /** Milliseconds to wait for the server's hello after dialing before the attempt counts as failed. @default 10000 */
  connectTimeout?: number;
  /** Calls kept while disconnected before new ones are refused. @default 100 */
  queueSize?: number;
  /**
   * Called when the server refuses the credentials (close 4401 / 4403 at the handshake, 4003 later)
   * with that UNAUTHORIZED / FORBIDDEN error: refresh what `params` sends, then resolve true to
   * reconnect at once, or false to give up (state "unauthorized"). Tried once per refusal; without
   * it a refusal ends the client at once (a 4003 reconnects once). @default none
   */
  refreshAuth?: (error: RpcError) => boolean | Promise<boolean>;
  /** The WebSocket constructor. @default globalThis.WebSocket */
  WebSocket?: typeof WebSocket;
}
