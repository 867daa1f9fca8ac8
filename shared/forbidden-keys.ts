/**
 * Object keys that could reach a prototype (`__proto__`, `constructor`, `prototype`): refused
 * anywhere in a client frame, and in any superjson meta path (safe-decode.ts).
 * @module
 */

/** Object keys that could reach a prototype if a setter or a copy followed them. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/**
 * The first object key named `__proto__`, `constructor` or `prototype` anywhere in a parsed frame,
 * or undefined. Such keys are inert after JSON.parse, but a handler copying the object
 * (`Object.assign`, a deep merge) could reach a prototype through them, and superjson refuses to
 * encode them (so echoing one back would fail), so frames holding them are refused up front.
 * `text` is the raw frame: the walk only runs when it contains one of the words or a `\u` escape
 * (which could spell one), so ordinary frames pay two substring searches.
 */
export function forbiddenKey(text: string, value: unknown): string | undefined {
  // Each of the three words contains "to": most frames pay one search for it and one for `\u`.
  const word = text.includes("to") && (text.includes("__proto__") || text.includes("constructor") || text.includes("prototype"));
  if (!word && !text.includes("\\u")) return undefined;
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
