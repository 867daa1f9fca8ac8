/**
 * The hot path's envelope check: a call frame checked by hand, without the protocol schema's walk.
 * It accepts only frames the schema (`CallFrame` in shared/protocol.ts) accepts with nothing to
 * strip: the right members and nothing else, each of its expected form. Anything else, unusual or
 * wrong, goes to the schema, which gives the verdict and its issues. The payload's own contents are
 * still checked (safe-decode.ts), and the contract's input schema still runs on every call.
 * @module
 */
import type * as v from "valibot";
import { type CallFrame, MAX_ID_LENGTH, MAX_IDEMPOTENCY_KEY_LENGTH, MAX_NAME_LENGTH } from "../shared/protocol.ts";

/** A call frame as validated. */
export type CallFrameValue = v.InferOutput<typeof CallFrame>;

/**
 * The parsed frame as a call frame when it plainly is one, or undefined to let the protocol schema
 * decide. Same verdict as the schema for every frame it accepts, and the same value (the schema's
 * output is a copy of these members).
 */
export function plainCallFrame(value: unknown): CallFrameValue | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const frame = value as { type?: unknown; id?: unknown; method?: unknown; input?: unknown; idempotencyKey?: unknown };
  if (frame.type !== "call" || !isId(frame.id)) return undefined;
  const { method, input, idempotencyKey } = frame;
  if (typeof method !== "string" || method.length > MAX_NAME_LENGTH) return undefined;
  if (input !== undefined && !isPlainPayload(input)) return undefined;
  if (idempotencyKey !== undefined && (typeof idempotencyKey !== "string" || idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH)) return undefined;
  const members = 3 + (input === undefined ? 0 : 1) + (idempotencyKey === undefined ? 0 : 1);
  return memberCount(value) === members ? (value as CallFrameValue) : undefined;
}

/** Whether a value is a request id: a non-negative safe integer, or a string of at most {@link MAX_ID_LENGTH} characters. */
export function isId(id: unknown): id is string | number {
  return typeof id === "number" ? Number.isSafeInteger(id) && id >= 0 : typeof id === "string" && id.length <= MAX_ID_LENGTH;
}

/** A payload `{ json, meta? }` with `meta` a plain object (its contents are checked later) and nothing else. */
function isPlainPayload(payload: unknown): boolean {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload) || !("json" in payload)) return false;
  const { meta } = payload as { meta?: unknown };
  if (meta !== undefined && (typeof meta !== "object" || meta === null || Array.isArray(meta))) return false;
  return memberCount(payload) === (meta === undefined ? 1 : 2);
}

/** How many enumerable keys an object has, without an array of them. */
function memberCount(value: object): number {
  let n = 0;
  for (const _ in value) n++;
  return n;
}
