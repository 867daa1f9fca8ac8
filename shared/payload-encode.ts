/**
 * Encoding a value into a payload (PROTOCOL.md section 2: superjson 2.x's format, restricted), with
 * every value either carried exactly or refused at the sender with an RpcError naming its path:
 * never sent changed. Plain JSON is recognised first and sent as it is, without a copy.
 * @module
 */
import { toBase64 } from "./binary-frame.ts";
import { RpcError } from "./errors.ts";

/** A binary kind's constructor, as the codec uses it (ArrayBuffer's is never called with a buffer). */
export interface BinaryKind {
  /** A view on `buffer` (`length` in elements; DataView: in bytes). */
  new (buffer: ArrayBuffer, byteOffset?: number, length?: number): ArrayBufferView | ArrayBuffer;
  readonly prototype: object;
  readonly name: string;
  /** A typed array's element size; DataView and ArrayBuffer have none. */
  readonly BYTES_PER_ELEMENT?: number;
}

/**
 * The binary kinds payloads carry (PROTOCOL.md section 2.1): every typed array this runtime has,
 * `ArrayBuffer` and `DataView`, by their exact prototype (a subclass, such as Node's `Buffer`, is not one).
 */
export const BINARY_KINDS: ReadonlyMap<unknown, BinaryKind> = new Map(
  // Float16Array is missing from older runtimes and browsers: only the kinds this one has.
  "Int8 Uint8 Uint8Clamped Int16 Uint16 Int32 Uint32 Float16 Float32 Float64 BigInt64 BigUint64"
    .split(" ")
    .map((name) => `${name}Array`)
    .concat("ArrayBuffer", "DataView")
    .map((name) => (globalThis as unknown as Record<string, BinaryKind>)[name]!)
    .filter(Boolean)
    .map((kind) => [kind.prototype, kind]),
);

/** Deepest nesting the codec carries; a cyclic value reaches it and is named as one. */
export const MAX_ENCODE_DEPTH = 256;

/** An annotation: `[type]` or, for a Set or Map, `[type, children]` (PROTOCOL.md section 2.2). */
export type Node = [Type] | [Type, Dict];
/** An annotation type; binary values are `["custom", kind]`. */
export type Type = string | ["custom", string];
/** Annotations by path. */
export type Dict = Record<string, Node>;

/** What {@link encodeValue} gives: the JSON, and its annotations (a Node, a Dict, or none: plain JSON). */
export type Encoded = [json: unknown, annotations?: Node | Dict];

/** Numbers JSON cannot write, by their text. */
const SPECIAL = (n: number) => Number.isNaN(n) ? "NaN" : n === Infinity ? "Infinity" : n === -Infinity ? "-Infinity" : "-0";

/**
 * Encodes a value. Binary values are pushed to `sink` and written as their index there, or written as
 * base64 text when there is no sink.
 * @throws {RpcError} `BAD_REQUEST` with `data.path` (written as PROTOCOL.md writes paths, `""` for
 *   the root) for what cannot be carried exactly: functions, symbols, class instances (Blob, WeakMap,
 *   boxed primitives, RegExp, Error…), objects without `Object.prototype`, sparse arrays, symbol
 *   keys, invalid Dates, keys `__proto__` / `constructor` / `prototype`, cycles, nesting past 256
 */
export function encodeValue(value: unknown, sink: Uint8Array[] | undefined): Encoded {
  return walk(value, [], [], sink);
}

function walk(value: unknown, trail: (string | number)[], parents: object[], sink: Uint8Array[] | undefined): Encoded {
  switch (typeof value) {
    case "string":
    case "boolean":
      return [value];
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0) ? [value] : [SPECIAL(value), ["number"]];
    case "bigint":
      return [String(value), ["bigint"]];
    case "undefined":
      return [null, ["undefined"]];
    case "object":
      if (value === null) return [null];
      break;
    default:
      refuse(trail, `a ${typeof value} is not data`);
  }
  if (parents.length >= MAX_ENCODE_DEPTH) {
    // A cycle is named where it first closes: the first object on the path that encloses itself.
    const path = [...parents, value];
    const cycle = path.findIndex((object, i) => path.indexOf(object) < i);
    if (cycle < 0) refuse(trail, `it nests deeper than ${MAX_ENCODE_DEPTH} levels`);
    refuse(trail.slice(0, cycle), "it refers back to an enclosing value (a cycle)");
  }
  const proto = Object.getPrototypeOf(value);
  const binary = BINARY_KINDS.get(proto);
  if (binary !== undefined) {
    const view = value as ArrayBufferView;
    const bytes = ArrayBuffer.isView(view) ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength) : new Uint8Array(value as ArrayBuffer);
    return [sink === undefined ? toBase64(bytes) : sink.push(bytes) - 1, [["custom", binary.name]]];
  }
  if (proto === Date.prototype) {
    const time = (value as Date).getTime();
    if (Number.isNaN(time)) refuse(trail, "an invalid Date is not carried");
    return [(value as Date).toISOString(), ["Date"]];
  }
  const type = proto === Map.prototype ? "map" : proto === Set.prototype ? "set" : undefined;
  if (type === undefined && proto !== Array.prototype && proto !== Object.prototype) {
    refuse(trail, proto === null ? "an object without a prototype is not carried" : `a ${kindOf(proto)} is not carried`);
  }
  if (type === undefined && Object.getOwnPropertySymbols(value).length > 0) refuse(trail, "symbol keys are not carried");
  // A Map is written as its [key, value] rows, a Set as its elements; their annotations are relative to that array.
  const source = type === undefined ? value as Record<string, unknown> : [...(value as Set<unknown>)];
  const isArray = Array.isArray(source);
  const json: Record<string, unknown> = isArray ? [] as never : {};
  let inner: Dict | undefined;
  parents.push(value);
  const child = (key: string | number, item: unknown) => {
    trail.push(key);
    const [j, annotations] = walk(item, trail, parents, sink);
    trail.pop();
    json[key] = j;
    if (annotations === undefined) return;
    const path = escape(key);
    inner ??= {};
    if (Array.isArray(annotations)) inner[path] = annotations;
    else for (const p in annotations) inner[`${path}.${p}`] = annotations[p]!;
  };
  if (isArray) {
    for (let i = 0; i < source.length; i++) {
      if (!(i in source)) refuse([...trail, i], "a sparse array's holes are not carried");
      child(i, source[i]);
    }
  } else {
    for (const key in source) {
      if (key === "__proto__" || key === "constructor" || key === "prototype") refuse([...trail, key], `the key "${key}" is not allowed`);
      child(key, source[key]);
    }
  }
  parents.pop();
  if (type !== undefined) return [json, inner === undefined ? [type] : [type, inner]];
  // Plain JSON all the way down is sent as it is: no copy.
  return inner === undefined ? [value] : [json, inner];
}

/** A path segment as PROTOCOL.md section 2.2 writes it: `\` as `\\`, `.` as `\.`. */
function escape(key: string | number): string {
  return typeof key === "number" ? String(key) : key.replace(/[\\.]/g, "\\$&");
}

/** The constructor name of a prototype, for the refusal's message. */
function kindOf(proto: object): string {
  const ctor = Object.getOwnPropertyDescriptor(proto, "constructor")?.value;
  return typeof ctor === "function" && ctor.name !== "" ? ctor.name : "class instance";
}

function refuse(trail: readonly (string | number)[], why: string): never {
  const path = trail.map(escape).join(".");
  throw new RpcError("BAD_REQUEST", `Cannot encode ${path === "" ? "the value" : `"${path}"`}: ${why}`, { path });
}
