/**
 * The bad-input suite: hostile and broken clients over raw WebSockets, each case asserting the
 * answer PROTOCOL.md documents, and that a bystander on the same server keeps being served.
 * @module
 */
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createService, defineContract, procedure, type RunningServer, type Service, topic } from "../server/mod.ts";
import { MAX_ID_LENGTH, MAX_IDEMPOTENCY_KEY_LENGTH, MAX_NAME_LENGTH } from "../shared/protocol.ts";
import { type Frame, openRaw, type RawSocket } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";
import { connectTcp } from "./fixtures/tcp-client.ts";

const contract = defineContract({
  add: procedure({ input: v.object({ a: v.number(), b: v.number() }), output: v.number() }),
  echo: procedure({ input: v.unknown(), output: v.unknown() }),
  wait: procedure({ input: v.object({ ms: v.number() }), output: v.string() }),
  feed: topic({ params: v.object({ n: v.number() }), message: v.string() }),
  chat: topic({ message: v.string(), clientPublish: true }),
  news: topic({ message: v.string() }),
});

const LIMITS = { maxFrameBytes: 4096, maxDepth: 16, maxInFlight: 4, maxSubscriptions: 8, ratePerSecond: 200, rateBurst: 50 };
let aborted = 0;

describe(`bad input over raw WebSockets on ${RUNTIME}`, () => {
  let server: RunningServer;
  let service: Service<typeof contract, undefined>;
  let bystander: RawSocket;
  let attacker: RawSocket;
  let n = 0;

  before(async () => {
    service = createService(contract, {
      add: ({ a, b }) => a + b,
      echo: (x) => x,
      wait: ({ ms }, ctx) =>
        new Promise((resolve, reject) => {
          const t = setTimeout(() => resolve(`waited ${ms}`), ms);
          ctx.signal.addEventListener("abort", () => (clearTimeout(t), aborted++, reject(ctx.signal.reason)));
        }),
      feed: {},
      chat: {},
      news: {},
    }, { limits: LIMITS });
    server = await serve(service);
    bystander = await openRaw(server.url);
  });
  after(async () => {
    await bystander.close();
    await server.stop();
  });

  /** A fresh attacker socket per case. */
  async function fresh(): Promise<RawSocket> {
    attacker = await openRaw(server.url);
    return attacker;
  }
  afterEach(async () => {
    // The bystander is served after every case, on the same server.
    const id = `b${++n}`;
    bystander.send({ type: "call", id, method: "add", input: { json: { a: n, b: 1 } } });
    const answer = await bystander.next((f) => f.id === id);
    assert.deepEqual(answer, { type: "result", id, output: { json: n + 1 } });
    await attacker?.close();
  });

  /** Sends a frame and returns the next error frame. */
  async function errorFor(ws: RawSocket, frame: unknown): Promise<Frame> {
    ws.send(frame);
    return await ws.next((f) => f.type === "error");
  }

  it("malformed JSON gets PARSE_ERROR with a null id", async () => {
    const e = await errorFor(await fresh(), '{"type":"call",');
    assert.equal(e.code, "PARSE_ERROR");
    assert.equal(e.id, null);
  });
  it("an empty text frame gets PARSE_ERROR", async () => {
    assert.equal((await errorFor(await fresh(), "")).code, "PARSE_ERROR");
  });
  it("a JSON array gets BAD_REQUEST", async () => {
    assert.equal((await errorFor(await fresh(), "[1,2,3]")).code, "BAD_REQUEST");
  });
  it("a bare JSON number gets BAD_REQUEST", async () => {
    assert.equal((await errorFor(await fresh(), "42")).code, "BAD_REQUEST");
  });
  it("null gets BAD_REQUEST", async () => {
    assert.equal((await errorFor(await fresh(), "null")).code, "BAD_REQUEST");
  });
  it("an unknown frame type gets BAD_REQUEST with issues", async () => {
    const e = await errorFor(await fresh(), { type: "launch", id: 1 });
    assert.equal(e.code, "BAD_REQUEST");
    assert.ok(Array.isArray(e.issues) && e.issues.length > 0);
  });
  it("a call without an id gets BAD_REQUEST with a null id", async () => {
    const e = await errorFor(await fresh(), { type: "call", method: "add" });
    assert.equal(e.code, "BAD_REQUEST");
    assert.equal(e.id, null);
  });
  it("a negative, fractional or over-long id gets BAD_REQUEST with a null id", async () => {
    const ws = await fresh();
    for (const id of [-1, 1.5, "x".repeat(MAX_ID_LENGTH + 1)]) {
      const e = await errorFor(ws, { type: "call", id, method: "add" });
      assert.equal(e.code, "BAD_REQUEST");
      assert.equal(e.id, null);
    }
  });
  it("a method that is not a string gets BAD_REQUEST echoing the id", async () => {
    const e = await errorFor(await fresh(), { type: "call", id: 7, method: 42 });
    assert.equal(e.code, "BAD_REQUEST");
    assert.equal(e.id, 7);
    assert.deepEqual(e.issues[0].path, ["method"]);
  });
  it("an id, method name and idempotency key at their protocol limit pass the envelope; one character more gets BAD_REQUEST", async () => {
    const ws = await fresh();
    const input = { json: { a: 1, b: 2 } };
    const long = (n: number) => "x".repeat(n);
    const cases: [frame: object, code: string | undefined][] = [
      [{ id: long(MAX_ID_LENGTH), method: "add", input }, undefined],
      [{ id: long(MAX_ID_LENGTH + 1), method: "add", input }, "BAD_REQUEST"],
      [{ id: 1, method: long(MAX_NAME_LENGTH) }, "NOT_FOUND"],
      [{ id: 2, method: long(MAX_NAME_LENGTH + 1) }, "BAD_REQUEST"],
      [{ id: 3, method: "add", input, idempotencyKey: long(MAX_IDEMPOTENCY_KEY_LENGTH) }, undefined],
      [{ id: 4, method: "add", input, idempotencyKey: long(MAX_IDEMPOTENCY_KEY_LENGTH + 1) }, "BAD_REQUEST"],
    ];
    for (const [frame, code] of cases) {
      ws.send({ type: "call", ...frame });
      const answer = await ws.next((f) => f.type === "result" || f.type === "error");
      assert.equal(answer.type === "error" ? answer.code : undefined, code, JSON.stringify(frame).slice(0, 80));
    }
  });
  it("an unknown method gets NOT_FOUND", async () => {
    const e = await errorFor(await fresh(), { type: "call", id: 1, method: "nope" });
    assert.equal(e.code, "NOT_FOUND");
    assert.equal(e.id, 1);
  });
  it("an input that is not a payload object gets BAD_REQUEST", async () => {
    assert.equal((await errorFor(await fresh(), { type: "call", id: 1, method: "add", input: 5 })).code, "BAD_REQUEST");
  });
  it("wrong input types get INVALID_INPUT with issue paths", async () => {
    const e = await errorFor(await fresh(), { type: "call", id: 2, method: "add", input: { json: { a: "1", b: 2 } } });
    assert.equal(e.code, "INVALID_INPUT");
    assert.deepEqual(e.issues[0].path, ["a"]);
  });
  it("a binary frame gets BAD_REQUEST", async () => {
    const ws = await fresh();
    ws.ws.send(new Uint8Array([0x7b, 0x7d]));
    assert.equal((await ws.next((f) => f.type === "error")).code, "BAD_REQUEST");
  });
  it("a frame over maxFrameBytes gets PAYLOAD_TOO_LARGE and the socket stays open", async () => {
    const ws = await fresh();
    const e = await errorFor(ws, { type: "call", id: 1, method: "echo", input: { json: "x".repeat(LIMITS.maxFrameBytes) } });
    assert.equal(e.code, "PAYLOAD_TOO_LARGE");
    assert.equal(ws.ws.readyState, WebSocket.OPEN);
  });
  it("a frame far over the limit closes with 1009 on both runtimes (Bun refuses it unbuffered, Deno's core after reading it)", async () => {
    const ws = await fresh();
    ws.send("y".repeat(LIMITS.maxFrameBytes * 8));
    assert.equal((await ws.closed).code, 1009);
  });
  it("nesting one level past maxDepth gets PAYLOAD_TOO_LARGE", async () => {
    const deep = "[".repeat(LIMITS.maxDepth) + "]".repeat(LIMITS.maxDepth);
    assert.equal((await errorFor(await fresh(), `{"type":"call","id":1,"method":"echo","input":{"json":${deep}}}`)).code, "PAYLOAD_TOO_LARGE");
  });
  it("4,000 open brackets get PAYLOAD_TOO_LARGE, not a stack overflow", async () => {
    assert.equal((await errorFor(await fresh(), "[".repeat(4000))).code, "PAYLOAD_TOO_LARGE");
  });
  it('a "__proto__" key gets BAD_REQUEST and no prototype changes', async () => {
    const e = await errorFor(await fresh(), '{"type":"call","id":1,"method":"echo","input":{"json":{"__proto__":{"polluted":true}}}}');
    assert.equal(e.code, "BAD_REQUEST");
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
  it('a "__proto__" key spelled with a \\u escape gets BAD_REQUEST', async () => {
    const e = await errorFor(await fresh(), '{"type":"call","id":1,"method":"echo","input":{"json":{"\\u005f_proto__":{"polluted":true}}}}');
    assert.equal(e.code, "BAD_REQUEST");
  });
  it('a "constructor" key (superjson cannot send it back) gets BAD_REQUEST instead of crashing the process', async () => {
    const e = await errorFor(await fresh(), { type: "call", id: 1, method: "echo", input: { json: { constructor: { prototype: 1 } } } });
    assert.equal(e.code, "BAD_REQUEST");
  });
  it("a superjson meta path through constructor.prototype gets BAD_REQUEST", async () => {
    const frame = { type: "call", id: 1, method: "echo", input: { json: { a: "2020-01-01" }, meta: { values: { "a.constructor.prototype": ["Date"] }, v: 1 } } };
    assert.equal((await errorFor(await fresh(), frame)).code, "BAD_REQUEST");
  });
  it("superjson reference sharing from a client gets BAD_REQUEST", async () => {
    const frame = { type: "call", id: 1, method: "echo", input: { json: { a: {}, b: {} }, meta: { referentialEqualities: { a: ["b", "a.self"] }, v: 1 } } };
    assert.equal((await errorFor(await fresh(), frame)).code, "BAD_REQUEST");
  });
  it("superjson class, custom and regexp annotations get BAD_REQUEST", async () => {
    const ws = await fresh();
    for (const type of [["class", "User"], ["custom", "x"], "regexp", "Error"]) {
      const e = await errorFor(ws, { type: "call", id: 1, method: "echo", input: { json: "x", meta: { values: [type], v: 1 } } });
      assert.equal(e.code, "BAD_REQUEST");
    }
  });
  it("a BigInt of 2,000 digits gets BAD_REQUEST; a normal one is echoed", async () => {
    const ws = await fresh();
    const big = await errorFor(ws, { type: "call", id: 1, method: "echo", input: { json: "9".repeat(2000), meta: { values: ["bigint"], v: 1 } } });
    assert.equal(big.code, "BAD_REQUEST");
    ws.send({ type: "call", id: 2, method: "echo", input: { json: "12345678901234567890", meta: { values: ["bigint"], v: 1 } } });
    assert.deepEqual((await ws.next((f) => f.id === 2)).output, { json: "12345678901234567890", meta: { values: ["bigint"], v: 1 } });
  });
  it("an annotation pointing far past the payload (row 999999 of a one-row Set) gets BAD_REQUEST", async () => {
    const frame = { type: "call", id: 1, method: "echo", input: { json: [1], meta: { values: ["set", { "999999": ["Date"] }], v: 1 } } };
    assert.equal((await errorFor(await fresh(), frame)).code, "BAD_REQUEST");
  });
  it("reusing an id while its call is in flight gets DUPLICATE_ID; after it finished the id is free again", async () => {
    const ws = await fresh();
    ws.send({ type: "call", id: "same", method: "wait", input: { json: { ms: 100 } } });
    const dup = await errorFor(ws, { type: "call", id: "same", method: "add", input: { json: { a: 1, b: 1 } } });
    assert.equal(dup.code, "DUPLICATE_ID");
    assert.equal((await ws.next((f) => f.type === "result" && f.id === "same")).output.json, "waited 100");
    ws.send({ type: "call", id: "same", method: "add", input: { json: { a: 1, b: 1 } } });
    assert.equal((await ws.next((f) => f.type === "result" && f.id === "same")).output.json, 2);
  });
  it("calls past maxInFlight get TOO_MANY_REQUESTS while the first ones finish", async () => {
    const ws = await fresh();
    for (let i = 0; i < LIMITS.maxInFlight + 2; i++) ws.send({ type: "call", id: i, method: "wait", input: { json: { ms: 50 } } });
    const refused = await ws.next((f) => f.type === "error");
    assert.equal(refused.code, "TOO_MANY_REQUESTS");
    for (let i = 0; i < LIMITS.maxInFlight; i++) assert.equal((await ws.next((f) => f.type === "result")).type, "result");
  });
  it("a cancel for an unknown id is ignored and the socket keeps working", async () => {
    const ws = await fresh();
    ws.send({ type: "cancel", id: 999 });
    ws.send({ type: "ping", ts: 5 });
    assert.deepEqual(await ws.next(), { type: "pong", ts: 5 });
  });
  it("a ping with a string ts gets BAD_REQUEST", async () => {
    assert.equal((await errorFor(await fresh(), { type: "ping", ts: "now" })).code, "BAD_REQUEST");
  });
  it("a flood past the rate limit gets TOO_MANY_REQUESTS, then close 1008; the bystander is unaffected", async () => {
    const ws = await fresh();
    // rateBurst frames pass (plus a few refilled tokens); past rateBurst refusals in one window the socket closes.
    for (let i = 0; i < LIMITS.rateBurst * 3; i++) ws.send({ type: "ping" });
    assert.equal((await ws.next((f) => f.type === "error")).code, "TOO_MANY_REQUESTS");
    assert.equal((await ws.closed).code, 1008);
  });
  it("a subscribe storm past maxSubscriptions gets TOO_MANY_REQUESTS for the extra ones", async () => {
    const ws = await fresh();
    for (let i = 0; i < LIMITS.maxSubscriptions + 3; i++) ws.send({ type: "subscribe", id: i, topic: "feed", params: { json: { n: i } } });
    const subscribed = [];
    for (let i = 0; i < LIMITS.maxSubscriptions; i++) subscribed.push(await ws.next((f) => f.type === "subscribed"));
    assert.equal(subscribed.length, LIMITS.maxSubscriptions);
    assert.equal((await ws.next((f) => f.type === "error")).code, "TOO_MANY_REQUESTS");
    ws.send({ type: "ping", ts: 1 });
    await ws.next((f) => f.type === "pong");
    assert.equal(ws.frames.filter((f) => f.type === "subscribed").length, LIMITS.maxSubscriptions);
  });
  it("subscribing to an unknown topic gets NOT_FOUND; bad params get INVALID_INPUT", async () => {
    const ws = await fresh();
    assert.equal((await errorFor(ws, { type: "subscribe", id: 1, topic: "nope" })).code, "NOT_FOUND");
    assert.equal((await errorFor(ws, { type: "subscribe", id: 2, topic: "feed", params: { json: { n: "x" } } })).code, "INVALID_INPUT");
  });
  it("unsubscribing from something never subscribed answers unsubscribed, not an error", async () => {
    const ws = await fresh();
    ws.send({ type: "unsubscribe", id: 1, topic: "feed", key: '{"n":1}' });
    assert.equal((await ws.next()).type, "unsubscribed");
  });
  it("publishing to a topic clients may not publish to gets FORBIDDEN", async () => {
    assert.equal((await errorFor(await fresh(), { type: "publish", id: 1, topic: "news", data: { json: "hi" } })).code, "FORBIDDEN");
  });
  it("an auth frame on a server without reauthenticate gets NOT_FOUND", async () => {
    assert.equal((await errorFor(await fresh(), { type: "auth", id: 1, token: "t" })).code, "NOT_FOUND");
  });
  it("an abrupt TCP disconnect mid-call aborts the handler and frees everything the connection held", async () => {
    await fresh();
    const before = aborted;
    const tcp = await connectTcp(server.url);
    tcp.send({ type: "subscribe", id: 1, topic: "feed", params: { json: { n: 1 } } });
    tcp.send({ type: "call", id: 2, method: "wait", input: { json: { ms: 10_000 } } });
    await until(() => service.stats().inflight >= 1, 5000, "the call to start");
    tcp.destroy();
    await until(() => aborted > before, 5000, "the handler to be aborted");
    await until(() => service.stats().inflight === 0 && service.connections.size === 2, 5000, "the connection to be released");
  });
  it("an upgrade offering another subprotocol is refused before any socket exists", async () => {
    await fresh();
    const ws = new WebSocket(server.url, "other.v9");
    const outcome = await new Promise<string>((resolve) => {
      ws.onopen = () => resolve("open");
      ws.onerror = () => resolve("refused");
    });
    assert.equal(outcome, "refused");
  });
});
