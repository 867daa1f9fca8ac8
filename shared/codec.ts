/**
 * Payloads (PROTOCOL.md section 2) and frames: encoding and decoding values, building a frame whose
 * binary values travel as attachments of a binary frame, and safe frame parsing (size and depth
 * limits before JSON.parse). The format is superjson 2.x's, restricted; the tests check it against
 * superjson itself.
 * @module
 */
import { packFrame, SplitFrame, splittable, type WireFrame } from "./binary-frame.ts";
import { applyAnnotations } from "./payload-decode.ts";
import { type Dict, encodeValue, type Node } from "./payload-encode.ts";

/** An encoded value as it travels inside a frame: plain JSON plus type annotations. */
export interface Payload {
  /** The value with Dates, Maps, Sets, BigInts, binary values… turned into JSON. */
  json: unknown;
  /** The annotations that turn `json` back into the original types; absent for plain JSON. */
  meta?: Record<string, unknown> | undefined;
}

/** Attachments of the binary frame being built ({@link frameOf}); outside one, binary values are written as base64. */
let sink: Uint8Array[] | undefined;
/** Attachments of the binary frame being read ({@link readingFrame}). */
let source: readonly Uint8Array[] | undefined;

/**
 * Encodes a value into a payload: plain JSON, Date, Map, Set, BigInt, undefined, NaN, ±Infinity,
 * -0, binary values (typed arrays, ArrayBuffer, DataView), nested. Values shared by reference are
 * written as copies. Binary values become attachments inside {@link frameOf}, base64 text elsewhere.
 * @throws {RpcError} `BAD_REQUEST` naming the path of a value that cannot be carried exactly (payload-encode.ts)
 */
export function encode(value: unknown): Payload {
  const [json, values] = encodeValue(value, sink);
  return values === undefined ? { json } : { json, meta: { values, v: 1 } };
}

/**
 * The JSON text of {@link encode}'s payload, for a value about to be sent.
 * @throws {RpcError} like {@link encode}
 */
export function encodeText(value: unknown): string {
  return JSON.stringify(encode(value));
}

/**
 * Builds one frame: `build` returns its JSON text, encoding its payloads with {@link encode} or
 * {@link encodeText}; when they hold binary values the result is a binary frame (binary-frame.ts)
 * carrying them as attachments, otherwise the text itself.
 * @param split send large attachments (`splittable` in binary-frame.ts) as messages of their own rather than
 *   copied into one frame: only for a frame that goes to one socket (not a native publish)
 */
export function frameOf(build: () => string, split = false): WireFrame {
  const outer = sink;
  const attachments: Uint8Array[] = (sink = []);
  try {
    const text = build();
    if (attachments.length === 0) return text;
    if (split && splittable(attachments)) return new SplitFrame(text, attachments);
    return packFrame(text, attachments);
  } finally {
    sink = outer;
  }
}

/**
 * Runs `read` (which decodes a received frame's payloads) with the attachments of the binary frame
 * they came in; payloads decoded outside it can only hold binary values as base64 text.
 */
export function readingFrame<T>(attachments: readonly Uint8Array[] | undefined, read: () => T): T {
  const outer = source;
  source = attachments;
  try {
    return read();
  } finally {
    source = outer;
  }
}

/**
 * Decodes a payload made by {@link encode}; a missing payload decodes to `undefined`.
 * @param inPlace turn the payload's own JSON into the value instead of a copy of it: only for JSON
 *   nothing else reads, such as a frame just parsed (the client decodes everything this way).
 * @throws {Error} when the metadata does not fit the JSON
 */
export function decode(payload: Payload | undefined, inPlace = false): unknown {
  const values = payload?.meta?.values as Node | Dict | undefined;
  if (values === undefined) return payload?.json;
  return applyAnnotations(inPlace ? payload!.json : JSON.parse(JSON.stringify(payload!.json)), values, source);
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
  // Never the attachments of a frame being built: a key holds its binary values' bytes (as base64).
  const [json, values] = encodeValue(params, undefined);
  return canonicalJson(values === undefined ? json : { json, meta: { values, v: 1 } });
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
