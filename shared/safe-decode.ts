/**
 * Checks on untrusted payloads before superjson or a handler sees them: superjson metadata must have
 * the exact shape PROTOCOL.md section 2 specifies (the shape superjson's own encoder writes), with
 * every annotation pointing at a JSON value of the right form, and no path naming a key that could
 * reach a prototype (forbidden-keys.ts, which also checks whole frames).
 * @module
 */
import type { Payload } from "./codec.ts";
import { FORBIDDEN_KEYS } from "./forbidden-keys.ts";
import { BINARY_KINDS } from "./payload-encode.ts";

/** Bounds on superjson metadata accepted from a peer. */
export const META_LIMITS = {
  /** Type annotations in one payload. */
  maxAnnotations: 10_000,
  /** Characters of one BigInt (parsing is superlinear in its length). */
  maxBigIntDigits: 1024,
} as const;

/** The superjson annotation types Tether payloads use besides binary (`["custom", kind]`); classes, symbols, other custom types, regexps and errors are refused. */
const ALLOWED_TYPES: ReadonlySet<unknown> = new Set(["undefined", "bigint", "Date", "set", "map", "number"]);

/** Bytes per element of each binary kind a `["custom", name]` annotation may name (1 for ArrayBuffer and DataView). */
const BINARY_SIZES: ReadonlyMap<unknown, number> = new Map(
  [...BINARY_KINDS.values()].map((kind) => [kind.name, (kind as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1]),
);

/** Standard base64 with padding: the text form of a binary value. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** What a payload's annotations are checked against besides its JSON. */
interface Budget {
  /** Annotations seen so far. */
  annotations: number;
  /** The attachments of the binary frame the payload came in (none for a text frame). */
  attachments: readonly Uint8Array[];
}

/** The JSON strings a `number` annotation may hold. */
const SPECIAL_NUMBERS: ReadonlySet<unknown> = new Set(["NaN", "Infinity", "-Infinity", "-0"]);

/** `Date.prototype.toISOString()`'s output: four-digit or signed six-digit year, milliseconds, `Z`. */
const ISO_DATE = /^(?:\d{4}|[+-]\d{6})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** `BigInt.prototype.toString()`'s output: decimal digits, no leading zero, `-` only before a non-zero. */
const BIGINT_TEXT = /^(?:0|-?[1-9][0-9]*)$/;

/** An array index as JSON writes it: no sign, no leading zero. */
const INDEX = /^(?:0|[1-9][0-9]*)$/;

/**
 * Why a payload's superjson metadata is unsafe or malformed, or undefined when it is fine.
 * Accepted: `{"v":1}` plus optionally `values`, an annotation tree (PROTOCOL.md section 2).
 * @param meta the `meta` member of a payload as received
 * @param json the `json` member, which every annotation must point into
 * @param attachments the attachments of the binary frame the payload came in, which binary values may name
 */
export function metaProblem(meta: Record<string, unknown>, json: unknown, attachments: readonly Uint8Array[] = []): string | undefined {
  for (const key of Object.keys(meta)) {
    if (key !== "values" && key !== "v") return `superjson meta member "${key.slice(0, 32)}" is not accepted`;
  }
  if (meta.v !== 1) return "superjson meta version must be 1";
  if (meta.values === undefined) return undefined;
  const count: Budget = { annotations: 0, attachments };
  return Array.isArray(meta.values) ? nodeProblem(meta.values, json, count) : dictProblem(meta.values, json, false, count);
}

/**
 * A node `[type]` or `[type, {path: node}]` annotating `value`: only `set` and `map` have children,
 * and they are applied to the rows before the node itself is.
 */
function nodeProblem(node: unknown[], value: unknown, count: Budget): string | undefined {
  if (node.length < 1 || node.length > 2) return "superjson annotation is malformed";
  const [type, children] = node;
  if (++count.annotations > META_LIMITS.maxAnnotations) return "superjson meta has too many annotations";
  if (Array.isArray(type)) {
    if (type.length !== 2 || type[0] !== "custom" || !BINARY_SIZES.has(type[1])) return "superjson annotation type is not allowed";
    return children === undefined ? binaryProblem(BINARY_SIZES.get(type[1])!, value, count.attachments) : "superjson binary annotation cannot have children";
  }
  if (typeof type !== "string" || !ALLOWED_TYPES.has(type)) return "superjson annotation type is not allowed";
  const problem = valueProblem(type, value);
  if (problem !== undefined || children === undefined) return problem;
  if (type !== "set" && type !== "map") return `superjson "${type}" annotation cannot have children`;
  return dictProblem(children, value, type === "map", count);
}

/**
 * A dictionary `{path: node}` under `base`. No path may be a prefix of another in the same
 * dictionary, so the order its entries are applied in never matters and no path ever walks a Set
 * or Map already built (superjson finds row n of one by iterating n entries).
 * @param mapRows the dictionary holds a `map` node's children: paths start `row.0` (key) or `row.1` (value)
 */
function dictProblem(dict: unknown, base: unknown, mapRows: boolean, count: Budget): string | undefined {
  if (typeof dict !== "object" || dict === null || Array.isArray(dict)) return "superjson annotation is malformed";
  const paths = new Set<string>();
  const prefixes = new Set<string>();
  // for…in rather than Object.entries: a hostile tree with 100,000 keys is refused without copying them all.
  for (const key in dict) {
    const node = (dict as Record<string, unknown>)[key];
    if (!Array.isArray(node)) return "superjson annotation is malformed";
    const reached = follow(key, base);
    if (!reached.ok) return reached.problem;
    if (mapRows && reached.segments.length < 2) {
      return "superjson map annotation must name a row's key or value";
    }
    let id = "";
    for (let i = 0; i < reached.segments.length; i++) {
      if (i > 0) prefixes.add(id);
      const segment = reached.segments[i]!;
      id += `${segment.length}:${segment}`;
      if (i < reached.segments.length - 1 && paths.has(id)) return "superjson meta paths overlap";
    }
    if (paths.has(id) || prefixes.has(id)) return "superjson meta paths overlap";
    paths.add(id);
    const problem = nodeProblem(node, reached.value, count);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

type Reached = { ok: true; value: unknown; segments: string[] } | { ok: false; problem: string };

/**
 * Parses a path (superjson v1 syntax: `.` separates segments, `\.` is a dot and `\\` a backslash
 * inside one, any other backslash is an error) while walking it through the plain JSON under
 * `base`, so a path is refused at its first segment that names nothing (a key of 400,000 dots costs
 * one step). Arrays take canonical indexes only; objects their own keys.
 */
function follow(key: string, base: unknown): Reached {
  const segments: string[] = [];
  let node = base;
  let segment = "";
  for (let i = 0; i <= key.length; i++) {
    const c = key[i];
    if (c === "\\") {
      const next = key[i + 1];
      if (next !== "." && next !== "\\") return { ok: false, problem: "superjson meta path is malformed" };
      segment += next;
      i++;
      continue;
    }
    if (c !== "." && c !== undefined) {
      segment += c;
      continue;
    }
    if (FORBIDDEN_KEYS.has(segment)) return { ok: false, problem: `superjson meta path names "${segment}"` };
    if (typeof node !== "object" || node === null) return { ok: false, problem: "superjson annotation points outside the payload" };
    if (Array.isArray(node) ? !INDEX.test(segment) || Number(segment) >= node.length : !Object.hasOwn(node, segment)) {
      return { ok: false, problem: "superjson annotation points outside the payload" };
    }
    node = (node as Record<string, unknown>)[segment];
    segments.push(segment);
    segment = "";
  }
  return { ok: true, value: node, segments };
}

/** Whether the JSON under an annotation has the form that annotation's type is written in. */
function valueProblem(type: string, value: unknown): string | undefined {
  switch (type) {
    case "undefined":
      return value === null ? undefined : "superjson undefined must be written as null";
    case "number":
      return SPECIAL_NUMBERS.has(value) ? undefined : "superjson number must be \"NaN\", \"Infinity\", \"-Infinity\" or \"-0\"";
    case "bigint":
      return typeof value === "string" && value.length <= META_LIMITS.maxBigIntDigits && BIGINT_TEXT.test(value)
        ? undefined
        : "superjson BigInt is not a short decimal string";
    case "Date":
      return typeof value === "string" && ISO_DATE.test(value) && isoRoundTrips(value) ? undefined : "superjson Date is not an ISO 8601 UTC string";
    case "set":
      return Array.isArray(value) ? undefined : "superjson Set must be written as an array";
    case "map":
      return Array.isArray(value) && value.every((row) => Array.isArray(row) && row.length === 2)
        ? undefined
        : "superjson Map must be written as an array of [key, value] rows";
  }
  return "superjson annotation type is not allowed";
}

/**
 * Whether the JSON under a binary annotation is an attachment index of this frame or base64 text,
 * holding a whole number of elements.
 */
function binaryProblem(elementSize: number, value: unknown, attachments: readonly Uint8Array[]): string | undefined {
  let bytes: number;
  if (typeof value === "number") {
    const attached = Number.isInteger(value) ? attachments[value] : undefined;
    if (attached === undefined) return "binary value names no attachment of its frame";
    bytes = attached.length;
  } else if (typeof value === "string" && BASE64.test(value)) {
    bytes = (value.length / 4) * 3 - (value.endsWith("==") ? 2 : value.endsWith("=") ? 1 : 0);
  } else return "binary value must be an attachment index or base64 text";
  return bytes % elementSize === 0 ? undefined : "binary value's length is not a whole number of elements";
}

/** Whether an ISO string names a real instant and is exactly what `toISOString()` gives for it (no 30 February). */
function isoRoundTrips(text: string): boolean {
  const time = Date.parse(text);
  return !Number.isNaN(time) && new Date(time).toISOString() === text;
}

/**
 * Why any payload of a validated client frame (`input`, `params`, `data`) is unsafe to decode, or
 * undefined. The server runs this once per frame, before a handler or superjson sees the payloads.
 */
export function framePayloadProblem(frame: object, attachments: readonly Uint8Array[] = []): string | undefined {
  // Any client frame: those without payload members (cancel, ping…) simply have none to check.
  const { input, params, data, output } = frame as { input?: Payload; params?: Payload; data?: Payload; output?: Payload };
  // Four calls rather than a loop over an array of them: this runs on every frame.
  return payloadProblem(input, attachments) ?? payloadProblem(params, attachments) ?? payloadProblem(data, attachments) ??
    payloadProblem(output, attachments);
}

function payloadProblem(payload: Payload | undefined, attachments: readonly Uint8Array[]): string | undefined {
  return payload?.meta === undefined ? undefined : metaProblem(payload.meta, payload.json, attachments);
}
