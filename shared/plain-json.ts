/**
 * The fast path of a call's answer: most outputs are plain JSON, which the encoder sends as it is.
 * Telling them apart with one walk that allocates nothing per value (the encoder's own walk,
 * payload-encode.ts, builds a copy, a path and an annotation tuple per value, then the frame's
 * attachment list) was the largest share of encoding a small call's result (bench/: server CPU
 * per call). Kept out of codec.ts so the browser bundle does not carry it.
 * @module
 */
import { MAX_ENCODE_DEPTH } from "./payload-encode.ts";

/**
 * Whether a value is plain JSON that the encoder would send unchanged, without annotations: strings,
 * finite numbers other than -0, booleans, null, and dense arrays and `Object.prototype` objects of
 * those, without symbol keys or the keys `__proto__` / `constructor` / `prototype`, nested at most
 * {@link MAX_ENCODE_DEPTH} levels. False for everything else, which the full walk then encodes or
 * refuses (a false answer never decides a refusal by itself).
 * @param depth objects enclosing `value` (the walk's own recursion)
 */
export function isPlainJson(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object":
      if (value === null) return true;
      break;
    default:
      return false;
  }
  if (depth >= MAX_ENCODE_DEPTH) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto === Array.prototype) {
    const array = value as unknown[];
    for (let i = 0; i < array.length; i++) if (!(i in array) || !isPlainJson(array[i], depth + 1)) return false;
  } else if (proto === Object.prototype) {
    const record = value as Record<string, unknown>;
    for (const key in record) {
      if (key === "__proto__" || key === "constructor" || key === "prototype" || !isPlainJson(record[key], depth + 1)) return false;
    }
  } else return false;
  return Object.getOwnPropertySymbols(value).length === 0;
}
