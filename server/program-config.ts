/**
 * The settings of the Tether program (`server.ts`): one table of flags, each with its environment
 * variable, default and parser, from which both the parsing and `--help` are made, so the two
 * cannot drift apart. Runtime-agnostic: the program passes its args and an env reader.
 * @module
 */
import type { Limits } from "../shared/protocol.ts";
import { DEFAULT_HEARTBEAT } from "./heartbeat.ts";
import { isLogLevel, type LogLevel } from "./log.ts";
import { DEFAULT_LIMITS } from "./options.ts";

/** Everything the program can be told by flags and environment. */
export interface ProgramConfig {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Interface to bind. */
  host: string;
  /** Development mode: error details go to clients. */
  dev: boolean;
  /** Redis URL to scale out on; undefined runs on the in-memory broker. */
  redis: string | undefined;
  /** Node URLs of a Redis Cluster to scale out on (sharded pub/sub); undefined: not a cluster. */
  redisCluster: string[] | undefined;
  /** Least severe log level written to stderr. */
  logLevel: LogLevel;
  /** Heartbeat interval and timeout, in milliseconds. */
  heartbeat: { interval: number; timeout: number };
  /** Browser origins allowed to open sockets, the page's public origin included (`*` any); undefined: loopback pages only. */
  origins: string[] | undefined;
  /** Per-connection limits announced in the hello frame. */
  limits: Limits;
  /** Sockets one IP address may hold open (Infinity: no limit). */
  maxConnectionsPerIp: number;
  /** Bytes a socket may have unsent before its slow-consumer policy applies. */
  maxBufferedBytes: number;
  /** Milliseconds a call may run. */
  callTimeout: number;
  /** Milliseconds in-flight calls get on SIGTERM / SIGINT. */
  shutdownGrace: number;
  /** Milliseconds a retried call's outcome is kept. */
  idempotencyWindow: number;
  /** Milliseconds presence diffs are gathered. */
  presenceWindow: number;
}

/** One setting: its flag, environment variable, what `--help` says, and how its text becomes a value. */
interface Setting {
  flag: string;
  env: string;
  arg: string;
  help: string;
  /** The default as `--help` shows it, read from a default configuration. */
  shown(config: ProgramConfig): string;
  /** Sets the value from its text; answers the problem when the text is not a valid value. */
  apply(config: ProgramConfig, text: string): string | undefined;
}

const count = (min: number) => (text: string): number | undefined => {
  const n = Number(text);
  return text.trim() !== "" && Number.isInteger(n) && n >= min ? n : undefined;
};

/** A whole-number setting at `path` (`limits.maxDepth`), at least `min`. */
function numeric(flag: string, env: string, help: string, path: string, min = 1, unit = "ms"): Setting {
  const [group, key] = path.includes(".") ? path.split(".") as [string, string] : [undefined, path];
  const holder = (config: ProgramConfig) => (group === undefined ? config : config[group as "limits"]) as unknown as Record<string, number>;
  return {
    flag,
    env,
    arg: "<n>",
    help,
    shown: (config) => String(holder(config)[key]),
    apply(config, text) {
      const n = text === "Infinity" && key === "maxConnectionsPerIp" ? Infinity : count(min)(text);
      if (n === undefined) return `--${flag} must be a whole number of ${unit} of at least ${min}, not "${text}"`;
      holder(config)[key] = n;
    },
  };
}

/** Every setting, in `--help` order. */
const SETTINGS: Setting[] = [
  {
    flag: "port", env: "PORT", arg: "<n>", help: "TCP port to listen on (0: any free port)", shown: () => "8080",
    apply(c, t) {
      const port = count(0)(t);
      if (port === undefined || port > 65535) return `--port must be a number between 0 and 65535, not "${t}"`;
      c.port = port;
    },
  },
  { flag: "host", env: "HOST", arg: "<name>", help: "interface to bind", shown: () => "127.0.0.1", apply: (c, t) => void (c.host = t) },
  {
    flag: "redis", env: "REDIS_URL", arg: "<url>", help: "scale out: share topics, history, presence with every instance on it", shown: () => "none (in memory)",
    apply: (c, t) => void (c.redis = t === "" ? undefined : t),
  },
  {
    flag: "redis-cluster", env: "REDIS_CLUSTER", arg: "<urls>", help: "scale out on a Redis Cluster (Redis 7+, sharded pub/sub): comma-separated node URLs, one is enough", shown: () => "none",
    apply(c, t) {
      const urls = t.split(",").map((u) => u.trim()).filter(Boolean);
      c.redisCluster = urls.length === 0 ? undefined : urls;
    },
  },
  {
    flag: "origins", env: "TETHER_ORIGINS", arg: "<list>", help: "comma-separated browser origins allowed to open sockets, the page's public one included (https://chat.example.com); * allows any", shown: () => "loopback pages only (localhost, 127.0.0.1, [::1], any port)",
    apply: (c, t) => void (c.origins = t.split(",").map((o) => o.trim()).filter(Boolean)),
  },
  {
    flag: "log-level", env: "TETHER_LOG_LEVEL", arg: "<level>", help: "debug | info | warn | error | silent (JSON lines on stderr)", shown: () => "warn",
    apply: (c, t) => isLogLevel(t) ? void (c.logLevel = t) : `--log-level must be debug, info, warn, error or silent, not "${t}"`,
  },
  numeric("heartbeat-interval", "TETHER_HEARTBEAT_INTERVAL", "ms between the server's beats", "heartbeat.interval"),
  numeric("heartbeat-timeout", "TETHER_HEARTBEAT_TIMEOUT", "ms of silence before a peer is dropped (close 4000)", "heartbeat.timeout"),
  numeric("max-frame-bytes", "TETHER_MAX_FRAME_BYTES", "longest frame accepted (UTF-16 code units)", "limits.maxFrameBytes", 1, "characters"),
  numeric("max-depth", "TETHER_MAX_DEPTH", "deepest nesting of a frame", "limits.maxDepth", 1, "levels"),
  numeric("max-in-flight", "TETHER_MAX_IN_FLIGHT", "calls running at once per connection", "limits.maxInFlight", 1, "calls"),
  numeric("max-subscriptions", "TETHER_MAX_SUBSCRIPTIONS", "topic instances per connection", "limits.maxSubscriptions", 1, "subscriptions"),
  numeric("rate-per-second", "TETHER_RATE_PER_SECOND", "frames per second from one client (token bucket)", "limits.ratePerSecond", 1, "frames"),
  numeric("rate-burst", "TETHER_RATE_BURST", "burst of that bucket", "limits.rateBurst", 1, "frames"),
  numeric("max-connections-per-ip", "TETHER_MAX_CONNECTIONS_PER_IP", "open sockets per peer address (Infinity: no limit)", "maxConnectionsPerIp", 1, "sockets"),
  numeric("max-buffered-bytes", "TETHER_MAX_BUFFERED_BYTES", "unsent bytes per socket before its slow-consumer policy", "maxBufferedBytes", 1, "bytes"),
  numeric("call-timeout", "TETHER_CALL_TIMEOUT", "ms a call may run (then TIMEOUT)", "callTimeout"),
  numeric("shutdown-grace", "TETHER_SHUTDOWN_GRACE", "ms in-flight calls get on SIGTERM / SIGINT", "shutdownGrace", 0),
  numeric("idempotency-window", "TETHER_IDEMPOTENCY_WINDOW", "ms a retried call's outcome is kept", "idempotencyWindow"),
  numeric("presence-window", "TETHER_PRESENCE_WINDOW", "ms presence changes are gathered into one frame", "presenceWindow", 0),
];

/** The program's configuration when nothing is set. */
function defaults(): ProgramConfig {
  return {
    port: 8080,
    host: "127.0.0.1",
    dev: false,
    redis: undefined,
    redisCluster: undefined,
    logLevel: "warn",
    heartbeat: { ...DEFAULT_HEARTBEAT },
    origins: undefined,
    limits: { ...DEFAULT_LIMITS },
    maxConnectionsPerIp: Infinity,
    maxBufferedBytes: 1_048_576,
    callTimeout: 30_000,
    shutdownGrace: 10_000,
    idempotencyWindow: 60_000,
    presenceWindow: 50,
  };
}

/**
 * Reads the configuration: a flag (`--name value` or `--name=value`) wins over its environment
 * variable, which wins over the default.
 * @returns the configuration, or the first problem as a sentence (unknown flag, bad value)
 */
export function readProgramConfig(args: readonly string[], env: (name: string) => string | undefined): { config: ProgramConfig } | { error: string } {
  const config = defaults();
  const given = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--dev") {
      config.dev = true;
      continue;
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    const setting = match === null ? undefined : SETTINGS.find((s) => s.flag === match[1]);
    if (match === null || setting === undefined) return { error: `Unknown option "${arg}": see --help` };
    const value = match[2] ?? args[++i];
    if (value === undefined) return { error: `Option --${setting.flag} needs a value` };
    given.set(setting.flag, value);
  }
  if (env("TETHER_DEV") === "1") config.dev = true;
  for (const setting of SETTINGS) {
    const text = given.get(setting.flag) ?? env(setting.env);
    if (text === undefined) continue;
    const problem = setting.apply(config, text);
    if (problem !== undefined) return { error: given.has(setting.flag) ? problem : `${problem} (from ${setting.env})` };
  }
  if (config.redis !== undefined && config.redisCluster !== undefined) {
    return { error: "--redis and --redis-cluster exclude each other: give one Redis node or the nodes of one cluster" };
  }
  if (config.heartbeat.timeout <= config.heartbeat.interval) {
    return { error: `--heartbeat-timeout (${config.heartbeat.timeout}) must be longer than --heartbeat-interval (${config.heartbeat.interval})` };
  }
  return { config };
}

/** The `--help` text: usage, every setting with its variable and default, and every endpoint. */
export function programHelp(): string {
  const base = defaults();
  const rows = SETTINGS.map((s) => {
    return `${`  --${s.flag} ${s.arg}`.padEnd(32)}${`[${s.env}]`.padEnd(32)}${s.help}; default ${s.shown(base)}`;
  });
  return `Tether: typed realtime RPC over WebSocket

Usage: deno task start [options]   |   bun run start -- [options]

Options (a flag wins over its environment variable, in brackets):
${rows.join("\n")}
  --dev                         [TETHER_DEV=1]                  error details go to clients
  --help                        print this text

Endpoints (http://<host>:<port>):
  /                the demo chat page
  /ws              the WebSocket (subprotocol tether.v1)
  /ws/http         its HTTP fallback (PROTOCOL.md, section 11)
  /healthz         liveness: 200 {"status":"ok"|"degraded","connections":N}
  /readyz          readiness: 200, or 503 while shutting down or without a broker
  /metrics         Prometheus text
  /asyncapi.json   the AsyncAPI 3.0 document of the demo's contract
  /schemas.json    the JSON Schema of every payload
`;
}
