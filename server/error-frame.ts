/**
 * Turning anything thrown into an error frame: RpcError keeps its code, anything else is INTERNAL.
 * @module
 */
import { encode } from "../shared/codec.ts";
import { type ErrorCode, type Issue, isProtocolCode, RpcError } from "../shared/errors.ts";
import type { ErrorFrame } from "../shared/protocol.ts";
import type { BaseIssue } from "valibot";

/**
 * Serializes an error frame for request `id`.
 * @param dev when true, unexpected errors carry their message and stack (never in production)
 * @param declared the error went through `checkDeclared`: an application code may pass; otherwise
 *   only protocol codes do, and an RpcError with any other code is an unexpected error
 */
export function errorFrame(id: string | number | null, error: unknown, dev: boolean, declared = false): string {
  const frame: ErrorFrame = { type: "error", id, code: "INTERNAL", message: "Internal server error" };
  if (error instanceof RpcError && (declared || isProtocolCode(error.code))) {
    frame.code = error.code;
    frame.message = error.message;
    try {
      if (error.data !== undefined) frame.data = encode(error.data);
    } catch {
      // Data the codec cannot carry exactly (encodable.ts) is never sent changed: the caller learns the server failed.
      return simpleErrorFrame(id, "INTERNAL", `Error "${error.code}" carries data that cannot be encoded`);
    }
  } else if (dev) {
    frame.message = error instanceof Error ? error.message : String(error);
    frame.data = encode({ stack: error instanceof Error ? error.stack : undefined });
  }
  return JSON.stringify(frame);
}

/** Serializes an error frame built from its parts. */
export function simpleErrorFrame(id: string | number | null, code: ErrorCode, message: string, issues?: Issue[]): string {
  const frame: ErrorFrame = { type: "error", id, code, message };
  if (issues !== undefined) frame.issues = issues;
  return JSON.stringify(frame);
}

/** valibot issues as protocol issues: a path of keys and a message. */
export function toIssues(issues: readonly BaseIssue<unknown>[]): Issue[] {
  return issues.map((issue) => ({
    path: (issue.path ?? []).map((item) => (typeof item.key === "number" ? item.key : String(item.key))),
    message: issue.message,
  }));
}
