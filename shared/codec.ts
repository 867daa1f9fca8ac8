/**
 * Payload encoding (superjson) and safe frame parsing (size and depth limits before JSON.parse).
 * @module
 */
import SuperJSON from "superjson";

/** A superjson-encoded value as it travels inside a frame: plain JSON plus type annotations. */
export interface Payload {
  /** The value with Dates, Maps, Sets, BigInts… turned into JSON. */
  json: unknown;
  /** superjson's annotations that turn `json` back into the original types; absent for plain JSON. */
  meta?: Record<string, unknown> | undefined;
}

// A private instance: registerClass/registerCustom on the global one would leak between users.
const superjson = new SuperJSON();

/** Encodes any superjson-supported value (Date, Map, Set, BigInt, undefined, nested) into a payload. */
export function encode(value: unknown): Payload {
  const { json, meta } = superjson.serialize(value);
  if (meta === undefined) return { json };
  // Reference sharing is refused on decode (it can build cycles), so it is never sent: shared values arrive as copies.
  if (meta.referentialEqualities !== undefined) {
    const { referentialEqualities: _, ...rest } = meta;
    return rest.values === undefined ? { json } : { json, meta: rest as Record<string, unknown> };
  }
  return { json, meta: meta as Record<string, unknown> };
}

/**
 * {@link encode}'s payload, for a value about to be sent. Plain JSON (strings, finite numbers,
 * booleans, null, plain objects and arrays, no `undefined`, not deeper than 64) skips superjson's
 * walk, which costs more than the rest of a small call; anything else goes through it.
 */
export function encodeToSend(value: unknown): Payload {
  return isPlainJson(value, 0) ? { json: value } : encode(value);
}

/** The JSON text of {@link encodeToSend}'s payload. */
export function encodeText(value: unknown): string {
  return JSON.stringify(encodeToSend(value));
}

/** Whether superjson would leave a value as it is with no meta (bounded depth: a cycle is "not plain"). */
function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object": {
      if (value === null) return true;
      if (depth > 64) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i], depth + 1)) return false;
        return true;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      for (const key in value) if (!isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
      return true;
    }
    default:
      return false;
  }
}

/**
 * Decodes a payload made by {@link encode}; a missing payload decodes to `undefined`. Payloads from
 * clients are checked by the server before they get here (safe-decode.ts), which keeps the browser
 * bundle free of those checks.
 * @param inPlace turn the payload's own JSON into the value instead of a copy of it: only for JSON
 *   nothing else reads, such as a frame just parsed (the client decodes everything this way).
 * @throws {Error} when the metadata does not fit the JSON
 */
export function decode(payload: Payload | undefined, inPlace = false): unknown {
  if (payload === undefined) return undefined;
  if (payload.meta === undefined) return payload.json;
  // superjson's types say JSONValue; a validated frame only holds JSON, so the cast is sound.
  return superjson.deserialize({ json: payload.json as never, meta: payload.meta as never }, { inPlace });
}

/** Why {@link parseFrame} refused a frame. */
export type FrameFault = "too-large" | "too-deep" | "malformed";

/** The outcome of {@link parseFrame}: the parsed JSON, or why there is none. */
export type ParsedFrame = { ok: true; value: unknown } | { ok: false; fault: FrameFault };

/**
 * Parses one text frame with the size checked first and the nesting depth checked before JSON.parse
 * ever sees it, so a hostile frame cannot make the parser recurse or allocate much.
 * @param text the frame as received
 * @param maxBytes largest frame accepted, in UTF-16 code units (a bound on UTF-8 bytes / 3)
 * @param maxDepth deepest nesting of objects and arrays accepted
 */
export function parseFrame(text: string, maxBytes: number, maxDepth: number): ParsedFrame {
  if (text.length > maxBytes) return { ok: false, fault: "too-large" };
  if (!fewBrackets(text, maxDepth) && nestingDepth(text) > maxDepth) return { ok: false, fault: "too-deep" };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, fault: "malformed" };
  }
}

/**
 * Whether a text has at most `limit` opening brackets, counted by the runtime's native search:
 * then it cannot nest deeper than `limit`, and the scan character by character is not needed.
 */
function fewBrackets(text: string, limit: number): boolean {
  let n = 0;
  for (let i = text.indexOf("{"); i >= 0; i = text.indexOf("{", i + 1)) if (++n > limit) return false;
  for (let i = text.indexOf("["); i >= 0; i = text.indexOf("[", i + 1)) if (++n > limit) return false;
  return true;
}

/** The deepest bracket nesting of a JSON text, ignoring brackets inside strings. */
function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) max = depth;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return max;
}

/**
 * The key naming a topic instance: `""` for a topic without params, the canonical JSON of the params
 * when they are plain JSON, the canonical JSON of the whole superjson payload otherwise.
 */
export function topicKey(params: unknown): string {
  if (params === undefined) return "";
  const payload = encode(params);
  return canonicalJson(payload.meta === undefined ? payload.json : payload);
}

/**
 * The canonical text of a value (object keys sorted), so equal params always give one topic key.
 * Used for topic instance keys; both sides treat the result as an opaque string.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(",")}}`;
}
