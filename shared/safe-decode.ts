/**
 * Checks on untrusted payloads before superjson or a handler sees them: superjson metadata is
 * allow-listed and bounded (no reference sharing, no costly Set/Map paths, no huge BigInts), and
 * objects may not carry a `__proto__` key.
 * @module
 */

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

/** One annotation: where it applies (keys from the payload root) and its type. */
interface Annotation {
  path: string[];
  type: string;
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
  const annotations: Annotation[] = [];
  const problem = collect(meta.values, [], annotations, 0);
  if (problem !== undefined) return problem;
  const collections = new Set<string>();
  // Paths as one string each: every key prefixed by a NUL, so the root is "" and [""] is "\0".
  for (const a of annotations) if (a.type === "set" || a.type === "map") collections.add(a.path.map((k) => `\u0000${k}`).join(""));
  let steps = 0;
  for (const a of annotations) {
    if (collections.size > 0) {
      let prefix = "";
      for (const key of a.path) {
        if (collections.has(prefix)) steps += Number(key) || 0;
        prefix += `\u0000${key}`;
      }
      if (steps > META_LIMITS.maxCollectionSteps) return "superjson meta walks Sets or Maps too far";
    }
    if (a.type === "bigint") {
      const value = at(json, a.path);
      if (typeof value !== "string" || value.length > META_LIMITS.maxBigIntDigits) return "superjson BigInt is not a short string";
    }
  }
  return undefined;
}

/** Walks superjson's annotation tree (`[type, children?]` or `{ path: subtree }`) into a flat list. */
function collect(tree: unknown, origin: string[], out: Annotation[], depth: number): string | undefined {
  if (depth > META_LIMITS.maxPathSegments) return "superjson meta nests too deep";
  if (Array.isArray(tree)) {
    const [type, children] = tree as unknown[];
    if (tree.length < 1 || tree.length > 2) return "superjson annotation is malformed";
    if (typeof type !== "string" || !ALLOWED_TYPES.has(type)) return "superjson annotation type is not allowed";
    if (out.push({ path: origin, type }) > META_LIMITS.maxAnnotations) return "superjson meta has too many annotations";
    return children === undefined ? undefined : collect(children, origin, out, depth + 1);
  }
  if (typeof tree !== "object" || tree === null) return "superjson annotation is malformed";
  for (const [key, subtree] of Object.entries(tree)) {
    const path = parsePath(key, origin);
    if (typeof path === "string") return path;
    const problem = collect(subtree, path, out, depth + 1);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** superjson's path syntax (dots separate, backslash escapes a dot or a backslash), appended to `origin`. */
function parsePath(key: string, origin: string[]): string[] | string {
  const path = [...origin];
  let segment = "";
  for (let i = 0; i < key.length; i++) {
    const c = key[i];
    if (c === "\\") {
      const next = key[i + 1];
      if (next !== "." && next !== "\\") return "superjson meta path is malformed";
      segment += next;
      i++;
    } else if (c === ".") {
      path.push(segment);
      segment = "";
    } else segment += c;
    if (path.length >= META_LIMITS.maxPathSegments) return "superjson meta path is too long";
  }
  path.push(segment);
  for (const s of path) if (FORBIDDEN_KEYS.has(s)) return `superjson meta path names "${s}"`;
  return path;
}

/** The plain-JSON value at a path, following own properties only. */
function at(json: unknown, path: readonly string[]): unknown {
  let node = json;
  for (const key of path) {
    if (typeof node !== "object" || node === null || !Object.hasOwn(node, key)) return undefined;
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
