/**
 * Checks on untrusted payloads before superjson or a handler sees them: superjson metadata is
 * allow-listed and bounded (no reference sharing, no costly Set/Map paths, no huge BigInts), and
 * objects may not carry a `__proto__` key.
 * @module
 */
import type { Payload } from "./codec.ts";

/** Bounds on superjson metadata accepted from a peer. */
export const META_LIMITS = {
  /** Type annotations in one payload. */
  maxAnnotations: 10_000,
  /** Keys in one annotation path. */
  maxPathSegments: 64,
  /** Sum of Set/Map row indexes superjson must walk (it finds row n by iterating n entries). */
  maxCollectionSteps: 200_000,
  /** Characters of one BigInt (parsing is superlinear in its length). */
  maxBigIntDigits: 1024,
} as const;

/** The superjson annotation types Tether payloads use; classes, symbols, custom types, regexps and errors are refused. */
const ALLOWED_TYPES: ReadonlySet<unknown> = new Set(["undefined", "bigint", "Date", "set", "map", "number"]);

/** Path keys that could reach a prototype if a setter followed them. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/** What the walk over an annotation tree keeps: counts, and the Set/Map paths converted so far. */
interface Walk {
  json: unknown;
  annotations: number;
  steps: number;
  /** Paths already turned into a Set or Map, each as one string (every key prefixed by a NUL). */
  collections: Set<string>;
}

/**
 * Why a payload's superjson metadata is unsafe to deserialize, or undefined when it is fine.
 * @param meta the `meta` member of a payload as received
 * @param json the `json` member, to check the size of BigInts before superjson parses them
 */
export function metaProblem(meta: Record<string, unknown>, json: unknown): string | undefined {
  for (const key of Object.keys(meta)) {
    if (key !== "values" && key !== "v") return `superjson meta member "${key.slice(0, 32)}" is not accepted`;
  }
  if (meta.v !== 1) return "superjson meta version must be 1";
  if (meta.values === undefined) return undefined;
  return visit(meta.values, [], { json, annotations: 0, steps: 0, collections: new Set() }, 0);
}

/**
 * Walks superjson's annotation tree (`[type, children?]` or `{ path: subtree }`) in the order
 * superjson applies it (children before their node, keys in order), so the cost counted is the
 * cost superjson would pay: a path through a Set or Map already converted walks its rows.
 */
function visit(tree: unknown, origin: string[], walk: Walk, depth: number): string | undefined {
  if (depth > META_LIMITS.maxPathSegments) return "superjson meta nests too deep";
  if (Array.isArray(tree)) {
    const [type, children] = tree as unknown[];
    if (tree.length < 1 || tree.length > 2) return "superjson annotation is malformed";
    if (typeof type !== "string" || !ALLOWED_TYPES.has(type)) return "superjson annotation type is not allowed";
    if (children !== undefined) {
      const problem = visit(children, origin, walk, depth + 1);
      if (problem !== undefined) return problem;
    }
    return annotate(origin, type, walk);
  }
  if (typeof tree !== "object" || tree === null) return "superjson annotation is malformed";
  // for…in rather than Object.entries: a hostile tree with 100,000 keys is refused without copying them all.
  for (const key in tree) {
    const path = parsePath(key, origin);
    if (typeof path === "string") return path;
    const problem = visit((tree as Record<string, unknown>)[key], path, walk, depth + 1);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** Counts one annotation and what applying it costs. */
function annotate(path: readonly string[], type: string, walk: Walk): string | undefined {
  if (++walk.annotations > META_LIMITS.maxAnnotations) return "superjson meta has too many annotations";
  let prefix = "";
  for (const key of path) {
    // superjson finds row n of a Set or Map by iterating n entries.
    if (walk.collections.size > 0 && walk.collections.has(prefix)) walk.steps += Number(key) || 0;
    prefix += `\u0000${key}`;
  }
  if (walk.steps > META_LIMITS.maxCollectionSteps) return "superjson meta walks Sets or Maps too far";
  if (type === "set" || type === "map") walk.collections.add(prefix);
  // An encoder only annotates values it wrote; a path into nowhere would make superjson grow arrays (index 999999).
  const value = at(walk.json, path);
  if (value === MISSING) return "superjson annotation points outside the payload";
  if (type === "bigint" && (typeof value !== "string" || value.length > META_LIMITS.maxBigIntDigits)) {
    return "superjson BigInt is not a short string";
  }
  return undefined;
}

/** superjson's path syntax (dots separate, backslash escapes a dot or a backslash), appended to `origin`. */
function parsePath(key: string, origin: readonly string[]): string[] | string {
  const room = META_LIMITS.maxPathSegments - origin.length;
  // split's limit stops early, so a key of 400,000 dots costs no more than one of 64.
  const parts = key.includes("\\") ? parseEscaped(key, room) : key.split(".", room + 1);
  if (typeof parts === "string") return parts;
  if (parts.length > room) return "superjson meta path is too long";
  for (const part of parts) if (FORBIDDEN_KEYS.has(part)) return `superjson meta path names "${part}"`;
  return origin.length === 0 ? parts : origin.concat(parts);
}

/** The slow path of {@link parsePath}, for keys holding escapes. */
function parseEscaped(key: string, room: number): string[] | string {
  const parts: string[] = [];
  let segment = "";
  for (let i = 0; i < key.length; i++) {
    const c = key[i];
    if (c === "\\") {
      const next = key[i + 1];
      if (next !== "." && next !== "\\") return "superjson meta path is malformed";
      segment += next;
      i++;
    } else if (c === ".") {
      parts.push(segment);
      segment = "";
      if (parts.length > room) return "superjson meta path is too long";
    } else segment += c;
  }
  parts.push(segment);
  return parts;
}

const MISSING = Symbol("missing");

/** The plain-JSON value at a path (Sets and Maps are still arrays there), following own properties only. */
function at(json: unknown, path: readonly string[]): unknown {
  let node = json;
  for (const key of path) {
    if (typeof node !== "object" || node === null || !Object.hasOwn(node, key)) return MISSING;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/**
 * The first object key named `__proto__`, `constructor` or `prototype` anywhere in a parsed frame,
 * or undefined. Such keys are inert after JSON.parse, but a handler copying the object
 * (`Object.assign`, a deep merge) could reach a prototype through them, and superjson refuses to
 * encode them (so echoing one back would fail), so frames holding them are refused up front.
 * `text` is the raw frame: the walk only runs when it contains one of the words or a `\u` escape
 * (which could spell one), so ordinary frames pay a few substring searches.
 */
export function forbiddenKey(text: string, value: unknown): string | undefined {
  if (!text.includes("__proto__") && !text.includes("constructor") && !text.includes("prototype") && !text.includes("\\u")) {
    return undefined;
  }
  return walk(value);
}

function walk(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = walk(item);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) return key;
    const found = walk((value as Record<string, unknown>)[key]);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Why any payload of a validated client frame (`input`, `params`, `data`) is unsafe to decode, or
 * undefined. The server runs this once per frame, before a handler or superjson sees the payloads.
 */
export function framePayloadProblem(frame: object): string | undefined {
  // Any client frame: those without payload members (cancel, ping…) simply have none to check.
  const { input, params, data } = frame as { input?: Payload; params?: Payload; data?: Payload };
  for (const payload of [input, params, data]) {
    if (payload?.meta === undefined) continue;
    const problem = metaProblem(payload.meta, payload.json);
    if (problem !== undefined) return problem;
  }
  return undefined;
}
