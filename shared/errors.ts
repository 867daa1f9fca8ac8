/**
 * RpcError: the one error class callers catch, on the server and on the client.
 * @module
 */

/** Every error code the protocol can carry. The list is closed: PROTOCOL.md documents each. */
export const ERROR_CODES = [
  "BAD_REQUEST",
  "PARSE_ERROR",
  "PAYLOAD_TOO_LARGE",
  "INVALID_INPUT",
  "NOT_FOUND",
  "DUPLICATE_ID",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "TOO_MANY_REQUESTS",
  "TIMEOUT",
  "CANCELLED",
  "DISCONNECTED",
  "CONFLICT",
  "INTERNAL",
] as const;

/** One of {@link ERROR_CODES}. */
export type ErrorCode = typeof ERROR_CODES[number];

/**
 * The form of an application error code a procedure declares (`errors` in `procedure`): UPPER_SNAKE,
 * a letter first, and never one of {@link ERROR_CODES}.
 */
export const APP_ERROR_CODE: RegExp = /^[A-Z][A-Z0-9_]{0,63}$/;

/** Whether a code is one of the protocol's own {@link ERROR_CODES}. */
export function isProtocolCode(code: string): code is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code);
}

/** One validation problem: where (`path`, keys from the root of the input) and what (`message`). */
export interface Issue {
  /** Keys from the root of the validated value to the offending one; empty for the root. */
  path: (string | number)[];
  /** What was wrong, safe to show to a user. */
  message: string;
}

/**
 * A typed RPC failure: a code from {@link ERROR_CODES} or one the procedure declared (`Code`), a
 * message safe to show, optional data.
 */
export class RpcError<Data = unknown, Code extends string = ErrorCode> extends Error {
  /** The machine-readable reason. */
  readonly code: Code;
  /** Extra detail chosen by whoever threw it (for INVALID_INPUT: the valibot issues with paths). */
  readonly data: Data | undefined;

  /**
   * Creates an error to throw from a handler (or that a call rejects with on the client).
   * @param code one of {@link ERROR_CODES}, or an error code the procedure declared (the server
   *   answers INTERNAL for any other, and for data its schema refuses)
   * @param message sentence case, no trailing period, safe to show to the end user
   * @param data optional detail sent to the client (must be superjson-serializable)
   */
  constructor(code: Code, message: string, data?: Data) {
    super(message);
    this.name = "RpcError";
    this.code = code;
    this.data = data;
  }
}
