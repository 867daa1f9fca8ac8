/**
 * Safe decoding: crafted 1 MB frames through the real core must not block the event loop, superjson
 * metadata is allow-listed and bounded, reference sharing is never sent nor accepted, and the
 * dependencies are at versions without known prototype-pollution flaws.
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import process from "node:process";
import * as v from "valibot";
import { createService, defineContract, procedure } from "../server/mod.ts";
import { decode, encode } from "../shared/codec.ts";
import { RpcError } from "../shared/errors.ts";
import { META_LIMITS, metaProblem } from "../shared/safe-decode.ts";
import { RUNTIME } from "./fixtures/serve.ts";

const contract = defineContract({ echo: procedure({ input: v.unknown(), output: v.unknown() }) });
const MB = 1_000_000;

/** A call frame of about 1 MB whose input carries the given json and meta. */
function frame(json: unknown, meta: unknown): string {
  return JSON.stringify({ type: "call", id: 1, method: "echo", input: { json, meta } });
}

/** The crafted frames: each aims at a superlinear path in superjson or in our own checks. */
function craftedFrames(): Record<string, string> {
  const n = 36_000;
  const set = Array.from({ length: n }, (_, i) => i);
  const setChildren = Object.fromEntries(set.map((i) => [String(i), ["Date"]]));
  return {
    // superjson finds Set row n by walking n entries: n annotations cost n² / 2 steps.
    "Set rows annotated one by one": frame(set, { values: ["set", setChildren], v: 1 }),
    "Set rows reached by flat paths": frame({ s: set }, { values: { s: ["set"], ...Object.fromEntries(set.map((i) => [`s.${i}`, ["Date"]])) }, v: 1 }),
    "45,000 annotations": frame(Array.from({ length: 45_000 }, () => 0), { values: Object.fromEntries(Array.from({ length: 45_000 }, (_, i) => [String(i), ["Date"]])), v: 1 }),
    "one path of 400,000 keys": frame({}, { values: { [Array.from({ length: 400_000 }, () => "a").join(".")]: ["Date"] }, v: 1 }),
    "reference sharing with 50,000 paths": frame({ a: {} }, { referentialEqualities: { a: Array.from({ length: 50_000 }, (_, i) => `b${i}`) }, v: 1 }),
    "a BigInt of 900,000 digits": frame("9".repeat(900_000), { values: ["bigint"], v: 1 }),
    "plain JSON (baseline)": frame(Array.from({ length: 60_000 }, (_, i) => `item ${i}`), undefined),
  };
}

describe(`safe decoding on ${RUNTIME}`, () => {
  it("crafted 1 MB frames cost no more than parsing the same bytes: no superlinear path in superjson or the checks", async () => {
    const service = createService(contract, { echo: (x) => x });
    const sent: string[] = [];
    const conn = service.open({ send: (f) => (sent.push(f as string), "written"), close: () => {}, bufferedAmount: () => 0 }, undefined, "127.0.0.1");
    /**
     * CPU time (process.cpuUsage) of one receive, and its answer. CPU time, not wall time: on a busy
     * machine the scheduler may take the core away mid-parse, which says nothing about the input.
     */
    const once = async (text: string) => {
      const before = sent.length;
      const start = process.cpuUsage();
      service.receive(conn, text);
      const used = process.cpuUsage(start);
      // Refusals are answered synchronously, results on the next microtasks.
      await new Promise((r) => setTimeout(r, 0));
      return { ms: (used.user + used.system) / 1000, answer: JSON.parse(sent[before]!) as { type: string; code?: string } };
    };
    const report: string[] = [];
    for (const [name, text] of Object.entries(craftedFrames())) {
      assert.ok(text.length > MB * 0.3 && text.length < 1_048_576, `${name}: ${text.length} characters`);
      // The same bytes as a plain payload ("meta" renamed): what any frame of this shape costs to parse and validate.
      const plainText = text.replace('"meta":', '"note":');
      // The fastest of five runs each, interleaved: a GC pause or a burst of other work hits both alike.
      const crafted = { best: Infinity, answer: { type: "none" } as { type: string; code?: string } };
      const plain = { best: Infinity, answer: { type: "none" } as { type: string; code?: string } };
      for (let run = 0; run < 5; run++) {
        for (const [into, input] of [[crafted, text], [plain, plainText]] as const) {
          const { ms, answer } = await once(input);
          into.best = Math.min(into.best, ms);
          into.answer = answer;
        }
      }
      report.push(`${name}: ${crafted.best.toFixed(1)} ms of CPU (same bytes as plain JSON: ${plain.best.toFixed(1)} ms)`);
      assert.equal(plain.answer.type, "result", name);
      if (name.startsWith("plain")) assert.equal(crafted.answer.type, "result");
      else assert.deepEqual([crafted.answer.type, crafted.answer.code], ["error", "BAD_REQUEST"], name);
      assert.ok(crafted.best <= 2 * plain.best + 5, report.at(-1));
    }
    await service.close();
  });

  it("Date, Map, Set, BigInt, undefined and NaN still round-trip", () => {
    const value = { at: new Date(0), m: new Map([["k", new Set([1n])]]), u: undefined, n: NaN, list: [new Date(1)] };
    assert.deepEqual(decode(JSON.parse(JSON.stringify(encode(value)))), value);
  });

  it("shared references are sent as copies (never as referentialEqualities) and cycles are refused at the sender with their path", () => {
    const shared = { x: 1 };
    const payload = encode({ a: shared, b: shared });
    assert.equal(payload.meta, undefined);
    assert.deepEqual(decode(payload), { a: { x: 1 }, b: { x: 1 } });
    const cyclic: Record<string, unknown> = { x: 1 };
    cyclic.self = cyclic;
    assert.throws(() => encode(cyclic), (e) => e instanceof RpcError && e.code === "BAD_REQUEST" && (e.data as { path: string }).path === "self");
  });

  it("annotation limits: exactly the maximum passes, one more is refused", () => {
    const json = Array.from({ length: META_LIMITS.maxAnnotations + 1 }, () => null);
    const values = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), ["undefined"]]));
    assert.equal(metaProblem({ values: values(META_LIMITS.maxAnnotations), v: 1 }, json), undefined);
    assert.match(metaProblem({ values: values(META_LIMITS.maxAnnotations + 1), v: 1 }, json) ?? "", /too many annotations/);
  });

  it("meta members other than values and v, other versions, and unknown types are refused", () => {
    assert.match(metaProblem({ values: ["Date"], v: 1, extra: 1 }, "x") ?? "", /"extra" is not accepted/);
    assert.match(metaProblem({ values: ["Date"] }, "x") ?? "", /version must be 1/);
    assert.match(metaProblem({ values: ["URL"], v: 1 }, "x") ?? "", /not allowed/);
    assert.match(metaProblem({ values: { "a.__proto__": ["Date"] }, v: 1 }, { a: {} }) ?? "", /"__proto__"/);
  });

  it("superjson and valibot are at versions without known prototype-pollution flaws (superjson >= 1.8.1, valibot >= 1.2.0)", () => {
    const version = (name: string) => JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), "utf8")).version;
    const atLeast = (actual: string, min: string) => {
      const [a, b] = [actual, min].map((s) => s.split(".").map(Number));
      for (let i = 0; i < 3; i++) if (a![i] !== b![i]) return a![i]! > b![i]!;
      return true;
    };
    assert.ok(atLeast(version("superjson"), "1.8.1"), version("superjson"));
    assert.ok(atLeast(version("valibot"), "1.2.0"), version("valibot"));
  });
});
