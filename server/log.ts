/**
 * Structured logs: one JSON object per line with a level, a message and fields. Quiet by default
 * (warnings and errors only), so a healthy service prints nothing per connection or call.
 * @module
 */

/** Log levels, most verbose first; `silent` prints nothing. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** Extra fields of a log line; values must be JSON-serializable. */
export type LogFields = Record<string, unknown>;

/** What the service and the program log through. */
export interface Logger {
  /** Per-connection detail (opens, closes); off unless asked for. */
  debug(msg: string, fields?: LogFields): void;
  /** Lifecycle: listening, shutting down, slow consumers disconnected. */
  info(msg: string, fields?: LogFields): void;
  /** Something a client or handler did wrong that an operator may want to see. */
  warn(msg: string, fields?: LogFields): void;
  /** The service itself failed. */
  error(msg: string, fields?: LogFields): void;
}

/** Whether a string names a log level. */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && Object.hasOwn(RANK, value);
}

/**
 * Creates a logger writing JSON lines at `level` and above.
 * @param level the least severe level written @default "warn"
 * @param write where a line goes @default console.error (stderr, keeping stdout for the program)
 * @example createLogger("info").info("listening", { url })
 */
export function createLogger(level: LogLevel = "warn", write: (line: string) => void = (line) => console.error(line)): Logger {
  const min = RANK[level];
  const at = (lvl: Exclude<LogLevel, "silent">) => (msg: string, fields?: LogFields) => {
    if (RANK[lvl] < min) return;
    let line: string;
    try {
      line = JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields });
    } catch {
      line = JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, fields: "unserializable" });
    }
    write(line);
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
