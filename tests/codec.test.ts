import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { canonicalJson, decode, encode, parseFrame } from "../shared/codec.ts";

describe("codec", () => {
  it("round-trips Date, Map, Set, BigInt, undefined and nested combinations exactly", () => {
    const value = {
      at: new Date("2026-01-02T03:04:05.678Z"),
      big: 12345678901234567890n,
      gone: undefined,
      tags: new Set(["a", "b"]),
      index: new Map<string, unknown>([["x", { when: new Date(0), ids: new Set([1n, 2n]) }], ["y", [undefined, null, 1]]]),
      list: [new Map([[1, new Set([new Date(5)])]])],
    };
    const wire = JSON.parse(JSON.stringify(encode(value)));
    assert.deepEqual(decode(wire), value);
  });

  it("encodes plain JSON without meta", () => {
    assert.deepEqual(encode({ a: [1, "x", null] }), { json: { a: [1, "x", null] } });
  });

  it("parseFrame refuses a frame over the size limit before parsing", () => {
    assert.deepEqual(parseFrame(`"${"x".repeat(100)}"`, 50, 10), { ok: false, fault: "too-large" });
  });

  it("parseFrame refuses nesting deeper than the limit, ignoring brackets inside strings", () => {
    assert.deepEqual(parseFrame("[[[[1]]]]", 1000, 3), { ok: false, fault: "too-deep" });
    assert.equal(parseFrame('{"a":"[[[[[[[["}', 1000, 3).ok, true);
    assert.equal(parseFrame('{"a":"\\"[[[[[["}', 1000, 3).ok, true);
  });

  it("parseFrame reports malformed JSON", () => {
    assert.deepEqual(parseFrame("{nope", 1000, 10), { ok: false, fault: "malformed" });
  });

  it("canonicalJson gives equal keys for equal params in any key order", () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, 2], c: "x" } }), canonicalJson({ a: { c: "x", d: [1, 2] }, b: 1 }));
    assert.equal(canonicalJson({ a: 1, skip: undefined }), '{"a":1}');
  });
});
