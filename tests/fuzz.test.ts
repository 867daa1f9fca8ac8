/**
 * Property-based fuzzing (fast-check) of the frame decoder and dispatcher: 100,000 random and
 * mutated frames through the real core (createService with a socket that records what it is sent),
 * then a smaller run over a real socket. Zero crashes, every bad frame answered as PROTOCOL.md says,
 * no prototype touched.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as v from "valibot";
import { createService, defineContract, procedure, type RunningServer, type Service, topic } from "../server/mod.ts";
import type { Connection } from "../server/connection.ts";
import { ERROR_CODES } from "../shared/errors.ts";
import { ClientFrame } from "../shared/protocol.ts";
import { openRaw } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";

const contract = defineContract({
  echo: procedure({ input: v.unknown(), output: v.unknown() }),
  add: procedure({ input: v.object({ a: v.number(), b: v.number() }), output: v.number() }),
  room: topic({ params: v.object({ room: v.string() }), message: v.unknown(), clientPublish: true, slowConsumer: "drop-oldest" }),
  news: topic({ message: v.string() }),
});

function makeService() {
  return createService(contract, {
    echo: (x) => x,
    add: ({ a, b }) => a + b,
    room: {},
    news: {},
  }, { limits: { ratePerSecond: Infinity, maxFrameBytes: 65_536 }, reauthenticate: (token) => (token === "ok" ? undefined : undefined) });
}

/** A socket for the in-process core: it records frames and reports closes back to the service. */
function recordingSocket(service: Service<typeof contract, undefined>) {
  const sent: string[] = [];
  // The socket reports closes back to the service, which needs the connection it has not created yet.
  const self: { conn?: Connection<undefined> } = {};
  const socket = {
    send: (frame: string) => (sent.push(frame), "written" as const),
    close: (code: number) => {
      if (self.conn !== undefined) service.closed(self.conn, code);
    },
    bufferedAmount: () => 0,
  };
  const conn = service.open(socket, undefined, "127.0.0.1");
  self.conn = conn;
  return { conn, sent };
}

const idArb = fc.oneof(fc.nat(), fc.string({ maxLength: 70 }), fc.constant(-1), fc.constant(1.5), fc.constant(null));
const nameArb = fc.oneof(fc.constantFrom("echo", "add", "room", "news", "nope", "__proto__", "constructor"), fc.string({ maxLength: 20 }));
const metaArb = fc.oneof(
  fc.constant(undefined),
  fc.constant({ values: ["Date"], v: 1 }),
  fc.constant({ values: { a: ["bigint"] }, v: 1 }),
  fc.constant({ values: { "__proto__.polluted": ["undefined"] }, v: 1 }),
  fc.constant({ values: { "constructor.prototype.polluted": ["Date"] }, v: 1 }),
  fc.constant({ values: ["set", { "999999": ["Date"] }], v: 1 }),
  fc.constant({ referentialEqualities: { a: ["b"] }, v: 1 }),
  fc.constant({ values: [["class", "X"]], v: 1 }),
  fc.constant({ values: ["regexp"], v: 1 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 }),
);
const payloadArb = fc.oneof(
  fc.record({ json: fc.jsonValue({ maxDepth: 4 }), meta: metaArb }, { requiredKeys: ["json"] }),
  fc.record({ json: fc.record({ a: fc.oneof(fc.integer(), fc.string()), b: fc.oneof(fc.integer(), fc.string()) }) }),
  fc.jsonValue({ maxDepth: 2 }),
);
const typeArb = fc.oneof(fc.constantFrom("call", "cancel", "subscribe", "unsubscribe", "publish", "auth", "ping", "pong"), fc.string({ maxLength: 8 }));
const frameObjectArb = fc.record(
  {
    type: typeArb,
    id: idArb,
    method: nameArb,
    topic: nameArb,
    input: payloadArb,
    params: payloadArb,
    data: payloadArb,
    key: fc.string({ maxLength: 30 }),
    token: fc.string({ maxLength: 10 }),
    ts: fc.oneof(fc.double(), fc.string()),
    since: fc.record({ epoch: fc.string({ maxLength: 10 }), offset: fc.oneof(fc.nat(), fc.integer()) }),
  },
  { requiredKeys: ["type"] },
);
/** Frames that pass the schema, with random payloads, so the fuzz reaches handlers and topics too. */
const wellFormedArb = fc.oneof(
  fc.record({ type: fc.constant("call"), id: fc.nat(), method: fc.constantFrom("echo", "add", "nope"), input: payloadArb.filter((p) => typeof p === "object" && p !== null && "json" in p) }),
  fc.record({ type: fc.constant("subscribe"), id: fc.nat(), topic: fc.constantFrom("room", "news"), params: fc.record({ json: fc.record({ room: fc.string({ maxLength: 5 }) }) }) }),
  fc.record({ type: fc.constant("publish"), id: fc.nat(), topic: fc.constant("room"), params: fc.record({ json: fc.record({ room: fc.string({ maxLength: 5 }) }) }), data: fc.record({ json: fc.jsonValue({ maxDepth: 3 }), meta: metaArb }, { requiredKeys: ["json"] }) }),
  fc.record({ type: fc.constantFrom("ping", "pong"), ts: fc.nat() }),
  fc.record({ type: fc.constant("cancel"), id: fc.nat() }),
);
/** A frame text: structured frames, garbage, random JSON, and mutations of structured frames. */
const frameArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: frameObjectArb.map((f) => JSON.stringify(f)) },
  { weight: 4, arbitrary: wellFormedArb.map((f) => JSON.stringify(f)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
  { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
  {
    weight: 2,
    arbitrary: fc.tuple(frameObjectArb, fc.nat(), fc.constantFrom("truncate", "flip", "proto", "deep", "escape")).map(([f, n, how]) => {
      const text = JSON.stringify(f);
      const at = n % (text.length + 1);
      if (how === "truncate") return text.slice(0, at);
      if (how === "flip") return text.slice(0, at) + String.fromCharCode((text.charCodeAt(at) + 1) % 128) + text.slice(at + 1);
      if (how === "proto") return text.replace("{", '{"__proto__":{"polluted":1},');
      if (how === "deep") return text.replace(/\{/, "[".repeat(40) + "{") + "]".repeat(40);
      return text.replace('"type"', '"\\u005f_proto__":{"polluted":1},"type"');
    }),
  },
);

const EXPECTS_ANSWER = new Set(["call", "subscribe", "unsubscribe", "publish", "auth", "ping"]);
const PROTOTYPES = [Object.prototype, Array.prototype, Function.prototype, String.prototype];
const BATCH = 100;
const RUNS = 1000;

describe(`fuzzing the decoder and dispatcher on ${RUNTIME}`, () => {
  // CPU-bound: about 1.5 min on a loaded 2-core machine, more than the runner's default 60 s per test.
  it(`${BATCH * RUNS} random and mutated frames: no crash, every frame answered as PROTOCOL.md says, no prototype changed`, { timeout: 300_000 }, async () => {
    const service = makeService();
    const protoKeys = PROTOTYPES.map((p) => Object.getOwnPropertyNames(p).join());
    let frames = 0;
    let validTotal = 0;
    let results = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(frameArb, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        const { conn, sent } = recordingSocket(service);
        let expected = 0;
        let refused = 0;
        for (const text of batch) {
          frames++;
          const before = sent.length;
          service.receive(conn, text);
          let parsed: unknown;
          let json = true;
          let protoKey = false;
          try {
            parsed = JSON.parse(text, (key, value) => ((protoKey ||= ["__proto__", "constructor", "prototype"].includes(key)), value));
          } catch {
            json = false;
          }
          const valid = json && !protoKey && v.safeParse(ClientFrame, parsed).success;
          if (!valid) {
            refused++;
            // A bad frame is answered at once by exactly one error frame with a protocol code.
            assert.equal(sent.length, before + 1, `one answer for ${text.slice(0, 200)}`);
            const answer = JSON.parse(sent[before]!);
            assert.equal(answer.type, "error");
            const codes = json ? ["BAD_REQUEST", "PAYLOAD_TOO_LARGE"] : ["PARSE_ERROR", "PAYLOAD_TOO_LARGE"];
            assert.ok(codes.includes(answer.code), `${answer.code} for ${text.slice(0, 200)}`);
          } else if (EXPECTS_ANSWER.has((parsed as { type: string }).type)) expected++;
        }
        // Valid requests are answered once each (some asynchronously); cancels and pongs get no answer.
        await until(() => sent.length - 1 - refused >= expected, 2000, "every request answered");
        validTotal += batch.length - refused;
        for (const frame of sent) {
          const f = JSON.parse(frame);
          if (f.type === "result" || f.type === "subscribed") results++;
          if (f.type === "error") assert.ok((ERROR_CODES as readonly string[]).includes(f.code));
        }
        conn.close(1000, "");
      }),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
    assert.equal(frames, BATCH * RUNS);
    // The mix is not degenerate: many frames pass the schema and many of those succeed.
    assert.ok(validTotal > frames / 10 && validTotal < frames, `${validTotal} valid frames of ${frames}`);
    assert.ok(results > frames / 50, `${results} successful answers, ${validTotal} valid frames`);
    assert.deepEqual(PROTOTYPES.map((p) => Object.getOwnPropertyNames(p).join()), protoKeys);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(service.stats().connections, 0);
    await service.close();
  });
});

describe(`fuzzing over a real ${RUNTIME} socket`, () => {
  let server: RunningServer;
  before(async () => {
    server = await serve(makeService());
  });
  after(() => server.stop());

  it("2,000 fuzzed frames over one socket: it stays open, and a bystander's calls keep working", async () => {
    const fuzzer = await openRaw(server.url);
    const bystander = await openRaw(server.url);
    try {
      const frames = fc.sample(frameArb, { numRuns: 2000, seed: 42 });
      for (let i = 0; i < frames.length; i++) {
        fuzzer.send(frames[i]);
        if (i % 500 === 0) {
          bystander.send({ type: "call", id: i, method: "add", input: { json: { a: i, b: 1 } } });
          const answer = await bystander.next((f) => f.id === i);
          assert.deepEqual(answer.output, { json: i + 1 });
        }
      }
      fuzzer.send({ type: "ping", ts: 7 });
      await fuzzer.next((f) => f.type === "pong" && f.ts === 7, 10_000);
      assert.equal(fuzzer.ws.readyState, WebSocket.OPEN);
    } finally {
      await fuzzer.close();
      await bystander.close();
    }
  });
});
