/**
 * Nothing silently mangled: over arbitrary values (fast-check's `anything` with every option, binary
 * kinds, and values the codec cannot carry), decode(encode(x)) deep-equals x, or encode throws
 * RpcError BAD_REQUEST naming a path; never a changed value. Checked through a binary frame (the
 * WebSocket form) and as text (base64, the HTTP fallback's and Redis's form), and the wire format
 * against superjson itself wherever superjson knows the types.
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import SuperJSON from "superjson";
import { oneMessage, unpackFrame, type WireFrame } from "../shared/binary-frame.ts";
import { decode, encode, frameOf, type Payload, readingFrame } from "../shared/codec.ts";
import { RpcError } from "../shared/errors.ts";
import { encodeValue } from "../shared/payload-encode.ts";
import { isPlainJson } from "../shared/plain-json.ts";
import { metaProblem } from "../shared/safe-decode.ts";
import { RUNTIME } from "./fixtures/serve.ts";

/** Runs per property: bounded so the suite stays quick on a busy machine (CI runs the same number). */
const RUNS = 400;

const binary: fc.Arbitrary<unknown> = fc.oneof(
  fc.uint8Array(),
  fc.int8Array(),
  fc.uint8ClampedArray(),
  fc.int16Array(),
  fc.uint16Array(),
  fc.int32Array(),
  fc.uint32Array(),
  fc.float32Array(),
  fc.float64Array(),
  fc.bigInt64Array(),
  fc.bigUint64Array(),
  fc.uint8Array().map((a) => a.buffer),
  fc.tuple(fc.uint8Array({ minLength: 4 }), fc.nat(3)).map(([a, at]) => a.subarray(at)),
  fc.uint8Array({ minLength: 2 }).map((a) => new DataView(a.buffer, 1)),
);

/** A getter's value is read once and sent as data (like JSON and structuredClone). */
const withGetter = () => Object.defineProperty({}, "g", { get: () => 7, enumerable: true });
const cyclic = () => {
  const o: Record<string, unknown> = { a: [1] };
  (o.a as unknown[]).push(o);
  return o;
};
class Point {
  x = 1;
}

/** Values the codec must refuse (or carry exactly): the list and more. */
const nasty: fc.Arbitrary<unknown> = fc.constantFrom<(() => unknown)[]>(
  () => () => 1,
  () => Symbol("s"),
  () => new WeakMap(),
  () => new WeakSet(),
  () => new Blob(["x"]),
  () => new Date(NaN),
  () => Object.create(null),
  // deno-lint-ignore no-sparse-arrays
  () => [1, , 3],
  () => NaN,
  () => -0,
  () => new Map<unknown, unknown>([[NaN, 1], [{ k: 1 }, 2], [-Infinity, 3]]),
  () => [undefined, 1],
  withGetter,
  cyclic,
  () => new Point(),
  () => new Number(1),
  () => /re/g,
  () => new Error("e"),
  () => new URL("http://x/"),
  () => 2n ** 70n,
  () => ({ [Symbol("k")]: 1 }),
  () => new Promise(() => {}),
  () => new Uint8Array(new SharedArrayBuffer(4)),
).map((make) => make());

const value = fc.anything({
  maxDepth: 4,
  key: fc.oneof(fc.string(), fc.constantFrom("__proto__", "constructor", "a.b", "a\\b", "", "0")),
  values: [fc.boolean(), fc.integer(), fc.double(), fc.string({ unit: "binary" }), fc.constant(null), fc.constant(undefined), fc.bigInt(), binary, nasty],
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withNullPrototype: true,
  withObjectString: true,
  withSet: true,
  withSparseArray: true,
  withTypedArray: true,
  stringUnit: "binary",
});

/** Encodes as the client and server do for a WebSocket, or returns the refusal. */
function viaFrame(x: unknown): { ok: true; decoded: unknown; payload: Payload } | { ok: false; error: unknown } {
  let frame: WireFrame;
  try {
    frame = frameOf(() => JSON.stringify({ p: encode(x) }));
  } catch (error) {
    return { ok: false, error };
  }
  const unpacked = typeof frame === "string" ? { text: frame, attachments: [] } : unpackFrame(oneMessage(frame) as Uint8Array)!;
  const payload = (JSON.parse(unpacked.text) as { p: Payload }).p;
  assert.equal(payload.meta === undefined ? undefined : metaProblem(payload.meta, payload.json, unpacked.attachments), undefined, "the server accepts what the codec writes");
  return { ok: true, payload, decoded: readingFrame(unpacked.attachments, () => decode(structuredClone(payload), true)) };
}

/** The refusal is the typed one: RpcError BAD_REQUEST with the path of the offending value. */
function assertRefusal(error: unknown): void {
  assert.ok(error instanceof RpcError, `encode threw ${String(error)}, not an RpcError`);
  assert.equal(error.code, "BAD_REQUEST");
  assert.equal(typeof (error.data as { path?: unknown }).path, "string");
}

describe(`codec property: nothing silently mangled, on ${RUNTIME}`, () => {
  it("through a binary frame: decode(encode(x)) deep-equals x, or encode throws BAD_REQUEST with a path", () => {
    fc.assert(
      fc.property(value, (x) => {
        const result = viaFrame(x);
        if (!result.ok) return assertRefusal(result.error);
        assert.deepStrictEqual(result.decoded, x);
      }),
      { numRuns: RUNS },
    );
  });

  it("as text (binary as base64): decode(encode(x)) deep-equals x, or encode throws BAD_REQUEST with a path", () => {
    fc.assert(
      fc.property(value, (x) => {
        let text: string;
        try {
          text = JSON.stringify(encode(x));
        } catch (error) {
          return assertRefusal(error);
        }
        assert.deepStrictEqual(decode(JSON.parse(text)), x);
      }),
      { numRuns: RUNS },
    );
  });

  it("the wire format is superjson's: without binary values, encode(x) is superjson.serialize(x) (shared references as copies)", () => {
    const superjson = new SuperJSON();
    fc.assert(
      fc.property(value, (x) => {
        let ours: Payload;
        try {
          ours = encode(x);
        } catch {
          return;
        }
        if (JSON.stringify(ours.meta ?? {}).includes('"custom"')) return;
        const { json, meta } = superjson.serialize(x);
        const values = (meta as { values?: unknown } | undefined)?.values;
        assert.deepStrictEqual(JSON.parse(JSON.stringify(ours)), JSON.parse(JSON.stringify(values === undefined ? { json } : { json, meta: { values, v: 1 } })));
      }),
      { numRuns: RUNS },
    );
  });

  it("the plain-JSON fast path agrees with the full walk: isPlainJson(x) exactly when the walk sends x itself, unannotated", () => {
    fc.assert(
      fc.property(fc.oneof(value, fc.jsonValue()), (x) => {
        let plain: boolean;
        try {
          const [json, annotations] = encodeValue(x, undefined);
          plain = annotations === undefined && json === x;
        } catch {
          plain = false;
        }
        assert.equal(isPlainJson(x), plain);
      }),
      { numRuns: RUNS },
    );
  });

  it("the issue's examples: each carried exactly or refused with its path", () => {
    const refusals: [unknown, string][] = [
      [{ items: [0, 1, 2, { blob: new Blob([]) }] }, "items.3.blob"],
      [{ f: () => 1 }, "f"],
      [{ s: Symbol("s") }, "s"],
      [{ w: new WeakMap() }, "w"],
      // deno-lint-ignore no-sparse-arrays
      [{ sparse: [1, , 2] }, "sparse.1"],
      [{ at: new Date(NaN) }, "at"],
      [{ p: new Point() }, "p"],
      [{ o: Object.create(null) }, "o"],
      [cyclic(), "a.1"],
      [{ "a.b": { "c\\d": [new Number(1)] } }, "a\\.b.c\\\\d.0"],
      [{ m: new Map([[new Blob([]), 1]]) }, "m.0.0"],
    ];
    for (const [x, path] of refusals) {
      assert.throws(() => encode(x), (e) => e instanceof RpcError && e.code === "BAD_REQUEST" && (e.data as { path: string }).path === path, path);
    }
    const carried = [NaN, -0, [undefined, 1], new Map<unknown, unknown>([[NaN, 1], [{ k: 1 }, 2]]), new ArrayBuffer(3), 2n ** 70n, { u: undefined }];
    for (const x of carried) {
      const result = viaFrame(x);
      assert.ok(result.ok);
      assert.deepStrictEqual(result.decoded, x);
    }
    const getter = viaFrame(withGetter());
    assert.ok(getter.ok);
    assert.deepStrictEqual(getter.decoded, { g: 7 });
  });
});
