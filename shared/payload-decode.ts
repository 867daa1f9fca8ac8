/**
 * Decoding a payload (PROTOCOL.md section 2.2): the JSON with its annotations applied. Payloads from
 * clients are checked by the server before they get here (safe-decode.ts), which keeps the browser
 * bundle free of those checks.
 * @module
 */
import { fromBase64 } from "./binary-frame.ts";
import { BINARY_KINDS, type Dict, type Node } from "./payload-encode.ts";

const KINDS_BY_NAME: ReadonlyMap<unknown, (typeof BINARY_KINDS extends ReadonlyMap<unknown, infer K> ? K : never)> = new Map(
  [...BINARY_KINDS.values()].map((kind) => [kind.name, kind]),
);

/**
 * Applies annotations to JSON, which it changes in place.
 * @param values the `values` member of a payload's meta: a Node (annotating the root) or a Dict
 * @param attachments the attachments of the binary frame the payload came in
 * @throws {Error} when the annotations do not fit the JSON
 */
export function applyAnnotations(json: unknown, values: Node | Dict, attachments: readonly Uint8Array[] | undefined): unknown {
  if (Array.isArray(values)) return applyNode(values, json, attachments);
  applyDict(values, json, attachments);
  return json;
}

function applyNode([type, children]: Node, value: unknown, attachments: readonly Uint8Array[] | undefined): unknown {
  // A Set's or Map's children are applied while it is still the JSON array.
  if (children !== undefined) applyDict(children, value, attachments);
  switch (type) {
    case "undefined":
      return undefined;
    case "number":
    case "bigint":
      return (type === "number" ? Number : BigInt)(value as string);
    case "Date":
      return new Date(value as string);
    case "set":
      return new Set(value as unknown[]);
    case "map":
      return new Map(value as [unknown, unknown][]);
  }
  const kind = Array.isArray(type) ? KINDS_BY_NAME.get(type[1]) : undefined;
  if (kind === undefined) throw new TypeError(`Unknown annotation ${JSON.stringify(type)}`);
  const attached = typeof value === "number" ? attachments?.[value] : undefined;
  if (attached === undefined && typeof value !== "string") throw new RangeError("Binary value names no attachment");
  // A view on the received frame, not a copy: what a 1 MiB value would otherwise pay twice per round
  // trip. An ArrayBuffer (which cannot be a view), or bytes not aligned for the kind, get a buffer of their own.
  const size = kind.BYTES_PER_ELEMENT ?? 1;
  const bytes = attached === undefined || kind === ArrayBuffer || attached.byteOffset % size !== 0
    ? attached?.slice() ?? fromBase64(value as string)
    : attached;
  if (kind === ArrayBuffer) return bytes.buffer;
  return new kind(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / size);
}

function applyDict(dict: Dict, base: unknown, attachments: readonly Uint8Array[] | undefined): void {
  for (const path in dict) {
    const keys = parsePath(path);
    const last = keys.pop()!;
    let parent = base as Record<string, unknown>;
    for (const key of keys) parent = parent[key] as Record<string, unknown>;
    parent[last] = applyNode(dict[path]!, parent[last], attachments);
  }
}

/** A path's segments: split at each `.` that is not escaped, with `\.` and `\\` unescaped. */
function parsePath(path: string): string[] {
  const keys: string[] = [];
  let key = "";
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (c === "\\") key += path[++i];
    else if (c === ".") (keys.push(key), key = "");
    else key += c;
  }
  keys.push(key);
  return keys;
}
