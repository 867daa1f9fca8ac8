/**
 * A service's options: what each one does, its default, and the resolution of both.
 * @module
 */
import type { Limits } from "../shared/protocol.ts";
import type { Broker } from "./broker/broker.ts";
import { createMemoryBroker } from "./broker/memory.ts";
import type { Context, Middleware } from "./handlers.ts";
import type { DocumentsOptions } from "./documents.ts";
import { DEFAULT_HEARTBEAT, type HeartbeatOptions } from "./heartbeat.ts";
import { createLogger, type Logger } from "./log.ts";

/** Limits applied when options leave them out (README, "Limits", has the table). */
export const DEFAULT_LIMITS: Limits = {
  maxFrameBytes: 1_048_576,
  maxDepth: 32,
  maxInFlight: 64,
  maxSubscriptions: 256,
  ratePerSecond: 1000,
  rateBurst: 2000,
};

/**
 * Frames longer than this many times `limits.maxFrameBytes` close the socket with 1009 instead of
 * getting an error frame: Bun's runtime refuses them before they reach the core (`maxPayloadLength`,
 * counted in bytes), and the core closes the socket for those Deno delivers (counted in UTF-16 units).
 */
export const OVERSIZE_CLOSE_FACTOR = 4;

/** How a connection closed, as `onDisconnect` hears it. */
export interface CloseInfo {
  /** The close code (PROTOCOL.md, section 8); 1005 when none was given, 1006 when the socket dropped. */
  code: number;
  /** The close reason; empty when none was given. */
  reason: string;
}

/** How a service behaves; every field has a documented default. */
export interface ServiceOptions<C, A> {
  /** Heartbeat timing announced to clients. @default { interval: 25000, timeout: 45000 } */
  heartbeat?: Partial<HeartbeatOptions>;
  /** Per-connection limits. @default DEFAULT_LIMITS */
  limits?: Partial<Limits>;
  /** Milliseconds a call may run before it is aborted with TIMEOUT. @default 30000 */
  callTimeout?: number;
  /** Development mode: unexpected errors show their message and stack to clients. @default false */
  dev?: boolean;
  /** Middleware by namespace path (`""` runs for everything, `"admin"` for `admin.*`). @default {} */
  middleware?: Record<string, Middleware<C, A>[]>;
  /** Where topic messages travel and history lives. @default the in-memory broker */
  broker?: Broker;
  /** Decides who connects, before the upgrade; throw RpcError UNAUTHORIZED / FORBIDDEN to refuse. */
  authenticate?: (request: Request) => A | Promise<A>;
  /** Re-authenticates in-band (the `auth` frame) with a fresh token; throw to refuse. */
  reauthenticate?: (token: string, current: A) => A | Promise<A>;
  /**
   * Runs when a connection opens, after its hello is sent (Socket.IO's `connection`): join rooms,
   * log, count. An error it throws is logged and the connection stays open. @default none
   */
  onConnect?: (ctx: Context<C, A>) => void;
  /**
   * Runs once when a connection closes, however it closed, with the close code and reason (the
   * server's own when it closed the socket, else the peer's; 1005 when none was given), before
   * its rooms and subscriptions are released (Socket.IO's `disconnect`). @default none
   */
  onDisconnect?: (ctx: Context<C, A>, close: CloseInfo) => void;
  /** Socket paths this service answers on. @default ["/ws"] */
  paths?: string[];
  /**
   * Browser origins allowed to open sockets, the service's own public origin included (it is never
   * guessed from the request's Host header: DNS rebinding); `["*"]` allows any. Requests without an
   * Origin (not a browser) always pass.
   * @default loopback only: http(s)://localhost, 127.0.0.1 and [::1], any port
   */
  origins?: string[];
  /** Milliseconds presence diffs are gathered before one frame per topic instance. @default 50 */
  presenceWindow?: number;
  /** Bytes a connection may have queued in the runtime before its slow-consumer policy applies. @default 1048576 */
  maxBufferedBytes?: number;
  /** Where structured logs go. @default createLogger("warn") (JSON lines on stderr, quiet) */
  logger?: Logger;
  /** Milliseconds `close()` waits for in-flight calls to finish before closing sockets. @default 10000 */
  shutdownGrace?: number;
  /** Sockets one IP address may hold open; past it a new socket is closed with 1013. @default Infinity (no limit) */
  maxConnectionsPerIp?: number;
  /** Milliseconds a retry-safe call's outcome is kept for a repeat of its idempotency key. @default 60000 */
  idempotencyWindow?: number;
  /**
   * Serve the contract's AsyncAPI 3.0 document at `GET /asyncapi.json` and the JSON Schema of its
   * payloads at `GET /schemas.json` (generated on first request; `true` uses default titles).
   * @default false
   */
  documents?: boolean | DocumentsOptions;
}

/**
 * The resolved options a running service uses.
 * @internal
 */
export interface ResolvedOptions<C, A> extends Required<Omit<ServiceOptions<C, A>, "authenticate" | "reauthenticate" | "onConnect" | "onDisconnect" | "heartbeat" | "limits" | "origins">> {
  heartbeat: HeartbeatOptions;
  limits: Limits;
  authenticate: ((request: Request) => A | Promise<A>) | undefined;
  reauthenticate: ((token: string, current: A) => A | Promise<A>) | undefined;
  onConnect: ServiceOptions<C, A>["onConnect"];
  onDisconnect: ServiceOptions<C, A>["onDisconnect"];
  /** The configured allow-list; undefined means loopback origins only. */
  origins: readonly string[] | undefined;
}

/**
 * Fills every option the caller left out with its default.
 * @throws {RangeError} when `heartbeat.timeout` is not longer than `heartbeat.interval`
 */
export function resolveOptions<C, A>(options: ServiceOptions<C, A>): ResolvedOptions<C, A> {
  const heartbeat = { ...DEFAULT_HEARTBEAT, ...options.heartbeat };
  if (!(heartbeat.timeout > heartbeat.interval)) {
    throw new RangeError(`heartbeat.timeout (${heartbeat.timeout}) must be longer than heartbeat.interval (${heartbeat.interval})`);
  }
  return {
    heartbeat,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    callTimeout: options.callTimeout ?? 30_000,
    dev: options.dev ?? false,
    middleware: options.middleware ?? {},
    broker: options.broker ?? createMemoryBroker(),
    authenticate: options.authenticate,
    reauthenticate: options.reauthenticate,
    onConnect: options.onConnect,
    onDisconnect: options.onDisconnect,
    paths: options.paths ?? ["/ws"],
    origins: options.origins,
    presenceWindow: options.presenceWindow ?? 50,
    maxBufferedBytes: options.maxBufferedBytes ?? 1_048_576,
    logger: options.logger ?? createLogger("warn"),
    shutdownGrace: options.shutdownGrace ?? 10_000,
    maxConnectionsPerIp: options.maxConnectionsPerIp ?? Infinity,
    idempotencyWindow: options.idempotencyWindow ?? 60_000,
    documents: options.documents ?? false,
  };
}
