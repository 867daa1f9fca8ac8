/**
 * Binary payloads over a real socket (PROTOCOL.md section 1.1): typed arrays, ArrayBuffer and
 * DataView nested anywhere in call inputs and outputs, topic messages and client publishes arrive
 * exactly, as attachments of one binary frame (never base64 on a WebSocket); size and rate limits
 * count binary frames as they count text; malformed ones get typed errors; values the codec cannot
 * carry are refused at the sender with their path.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { type Client, createClient, RpcError } from "../client/mod.ts";
import { httpFallback } from "../client/http.ts";
import { createService, defineContract, procedure, type RunningServer, type Service, topic } from "../server/mod.ts";
import { packFrame, SplitFrame } from "../shared/binary-frame.ts";
import { BINARY_KINDS } from "../shared/payload-encode.ts";
import { openRaw } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";

const contract = defineContract({
  echo: procedure({ input: v.unknown(), output: v.unknown() }),
  /** What the server received, described on the server: kind, length and bytes. */
  inspect: procedure({ input: v.unknown(), output: v.string() }),
  /** Returns a value with a Blob inside: the server must refuse to send it. */
  blob: procedure({ output: v.unknown() }),
  /** Publishes its input to `feed` from the server. */
  shout: procedure({ input: v.unknown() }),
  feed: topic({ message: v.unknown(), clientPublish: true }),
});

/** Frames up to 256 KiB: room for split frames (attachments of 64 KiB or more in all). */
const MAX_FRAME = 256 * 1024;

/** A call frame's JSON whose input is one binary value, attachment 0. */
const callText = (id: number) => JSON.stringify({ type: "call", id, method: "echo", input: { json: 0, meta: { values: [["custom", "Uint8Array"]], v: 1 } } });

/** Sends a split frame (PROTOCOL.md section 1.1) as its messages: the head, then each attachment. */
const sendSplit = (raw: { send(frame: unknown): void }, text: string, attachments: Uint8Array<ArrayBuffer>[]) => {
  for (const message of new SplitFrame(text, attachments).messages) raw.send(message);
};

/** One value of every binary kind this runtime has, with edge contents (NaN, negative zero, extremes). */
function everyKind(): Record<string, unknown> {
  const bytes = Uint8Array.from({ length: 24 }, (_, i) => (i * 37) & 255);
  const out: Record<string, unknown> = {};
  for (const kind of BINARY_KINDS.values()) {
    if (kind === ArrayBuffer) out[kind.name] = bytes.buffer.slice(0, 24);
    else if (kind === DataView) out[kind.name] = new DataView(bytes.buffer.slice(0), 3, 5);
    else out[kind.name] = new kind(bytes.buffer.slice(0, 24));
  }
  out.floats = new Float64Array([NaN, -0, Infinity, -Infinity, 1.5]);
  out.bigs = new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n]);
  out.empty = new Uint8Array(0);
  return out;
}

/** A nested value: binary inside arrays, objects, Map keys and values, Sets. */
function nested(): unknown {
  const whole = Uint8Array.from({ length: 64 }, (_, i) => i);
  return {
    list: [1, whole.subarray(10, 14), [new Int16Array([-1, 2])]],
    map: new Map<unknown, unknown>([[new Uint8Array([9]), { deep: new Float32Array([0.5]) }]]),
    set: new Set([new Uint32Array([7, 8])]),
    at: new Date(0),
    plain: "x",
  };
}

describe(`binary payloads on ${RUNTIME}`, () => {
  let server: RunningServer;
  let service: Service<typeof contract, undefined>;
  let client: Client<typeof contract>;
  const warnings: string[] = [];

  before(async () => {
    service = createService(contract, {
      echo: (x) => x,
      inspect: (x) => describeValue(x),
      blob: () => ({ items: [0, 1, 2, { blob: new Blob(["x"]) }] }),
      shout: (x, ctx) => ctx.publish("feed", undefined, x),
      feed: {},
    }, {
      limits: { maxFrameBytes: MAX_FRAME },
      logger: { debug() {}, info() {}, warn: (message, fields) => void warnings.push(`${message} ${JSON.stringify(fields)}`), error() {} },
    });
    server = await serve(service);
    client = createClient<typeof contract>(server.url);
    await client.ready();
  });
  after(async () => {
    client?.close();
    await server?.stop();
  });

  it("call input and output: every binary kind round-trips exactly, type and contents", async () => {
    const value = everyKind();
    assert.deepStrictEqual(await client.api.echo(value), value);
  });

  it("call input and output: binary nested in arrays, objects, Map keys and values and Sets round-trips", async () => {
    const value = nested();
    assert.deepStrictEqual(await client.api.echo(value), value);
  });

  it("a view on part of a buffer arrives as just its bytes, on the server and back on the client; an ArrayBuffer as a buffer of its own", async () => {
    const whole = Uint8Array.from({ length: 100 }, (_, i) => i);
    const view = whole.subarray(10, 14);
    assert.equal(await client.api.inspect(view), "Uint8Array length 4 [10,11,12,13]");
    assert.equal(await client.api.inspect(new DataView(whole.buffer, 98, 2)), "DataView length 2 [98,99]");
    assert.equal(await client.api.inspect(new Float64Array(whole.buffer, 8, 2)), "Float64Array length 16 [8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23]");
    const back = await client.api.echo(view) as Uint8Array;
    assert.deepStrictEqual(back, new Uint8Array([10, 11, 12, 13]));
    const buffer = await client.api.echo(whole.buffer.slice(0, 3)) as ArrayBuffer;
    assert.ok(buffer instanceof ArrayBuffer);
    assert.deepStrictEqual(new Uint8Array(buffer), new Uint8Array([0, 1, 2]));
  });

  it("a call with a binary value travels as one binary frame each way, its bytes as an attachment (no base64)", async () => {
    const raw = await openRaw(server.url);
    try {
      const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i & 255);
      const text = JSON.stringify({ type: "call", id: 1, method: "echo", input: { json: { b: 0 }, meta: { values: { b: [["custom", "Uint8Array"]] }, v: 1 } } });
      raw.send(packFrame(text, [bytes]));
      const result = await raw.next((f) => f.id === 1);
      assert.equal(result.type, "result");
      assert.deepEqual(result.output, { json: { b: 0 }, meta: { values: { b: [["custom", "Uint8Array"]] }, v: 1 } });
      assert.deepEqual([...result.$attachments[0]], [...bytes]);
    } finally {
      await raw.close();
    }
  });

  it("a large binary value (64 KiB or more) goes split each way: a head, then its bytes as a message of their own; it round-trips exactly", async () => {
    const big = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7) & 255);
    assert.deepStrictEqual(await client.api.echo({ big, small: new Uint8Array([1]) }), { big, small: new Uint8Array([1]) });
    const raw = await openRaw(server.url);
    try {
      sendSplit(raw, callText(1), [big]);
      const result = await raw.next((f) => f.id === 1);
      assert.equal(result.type, "result");
      assert.equal(result.$split, true, "the answer came split too");
      assert.deepEqual(result.$attachments[0], big);
    } finally {
      await raw.close();
    }
  });

  it("a large value in a call that waits for the connection is sent as it was when called, not as it is later", async () => {
    const early = createClient<typeof contract>(server.url);
    try {
      const big = new Uint8Array(70_000).fill(1);
      // Called before the socket opens: the call waits in the offline queue, holding a copy.
      const answer = early.api.echo(big);
      big.fill(2);
      assert.deepStrictEqual(await answer, new Uint8Array(70_000).fill(1));
    } finally {
      early.close();
    }
  });

  it("maxFrameBytes counts a split frame's attachments: over it, PAYLOAD_TOO_LARGE at its head, its attachments skipped; the connection goes on", async () => {
    const raw = await openRaw(server.url);
    try {
      sendSplit(raw, callText(1), [new Uint8Array(MAX_FRAME / 2), new Uint8Array(MAX_FRAME / 2)]);
      sendSplit(raw, callText(2), [new Uint8Array(MAX_FRAME - 200)]);
      const ok = await raw.next((f) => f.id === 2);
      assert.equal(ok.type, "result");
      assert.equal(ok.$attachments[0].length, MAX_FRAME - 200);
      const errors = raw.frames.filter((f) => f.type === "error");
      assert.deepEqual(errors.map(pick), [[null, "PAYLOAD_TOO_LARGE"]], "one refusal, nothing for the skipped attachments");
    } finally {
      await raw.close();
    }
  });

  it("a split frame whose attachments do not follow its head is refused BAD_REQUEST; the message that broke it is read as a frame of its own", async () => {
    const raw = await openRaw(server.url);
    try {
      raw.send(new SplitFrame(callText(1), [new Uint8Array(70_000)]).head);
      raw.send({ type: "call", id: 2, method: "echo", input: { json: "next" } });
      assert.deepEqual(pick(await raw.next((f) => f.type === "error")), [null, "BAD_REQUEST"]);
      const ok = await raw.next((f) => f.id === 2);
      assert.deepEqual([ok.type, ok.output], ["result", { json: "next" }]);
      // A head whose lengths do not add up is malformed, as a packed frame's are; so is one announcing over 64 attachments.
      const head = new SplitFrame(callText(3), [new Uint8Array(70_000)]).head;
      raw.send(head.subarray(0, head.length - 2).slice());
      assert.deepEqual(pick(await raw.next((f) => f.type === "error")), [null, "BAD_REQUEST"]);
      raw.send(new SplitFrame(callText(4), Array.from({ length: 65 }, () => new Uint8Array(0))).head);
      assert.deepEqual(pick(await raw.next((f) => f.type === "error")), [null, "BAD_REQUEST"]);
      raw.send({ type: "call", id: 5, method: "echo", input: { json: "still in step" } });
      assert.deepEqual((await raw.next((f) => f.id === 5)).output, { json: "still in step" });
    } finally {
      await raw.close();
    }
  });

  it("a topic message from the server and a client publish carry binary to subscribers exactly", async () => {
    const other = createClient<typeof contract>(server.url);
    try {
      const got: unknown[] = [];
      const sub = other.api.feed.subscribe(undefined, { onData: (m) => void got.push(m) });
      await sub.ready;
      const fromServer = nested();
      await client.api.shout(fromServer);
      await until(() => got.length === 1, 5000, "the server's message");
      assert.deepStrictEqual(got[0], fromServer);
      const fromClient = everyKind();
      await client.api.feed.publish(undefined, fromClient);
      await until(() => got.length === 2, 5000, "the client's publish");
      assert.deepStrictEqual(got[1], fromClient);
      sub.unsubscribe();
    } finally {
      other.close();
    }
  });

  it("a subscriber's binary event is a binary frame with the bytes attached", async () => {
    const raw = await openRaw(server.url);
    try {
      raw.send({ type: "subscribe", id: 1, topic: "feed" });
      await raw.next((f) => f.type === "subscribed");
      await client.api.shout(new Uint8Array([1, 2, 3]));
      const event = await raw.next((f) => f.type === "event");
      assert.equal(event.data.json, 0);
      assert.deepEqual([...event.$attachments[0]], [1, 2, 3]);
    } finally {
      await raw.close();
    }
  });

  it("maxFrameBytes counts a binary frame's bytes, attachments included: over it, PAYLOAD_TOO_LARGE; the connection goes on", async () => {
    const raw = await openRaw(server.url);
    try {
      const call = (id: number, size: number) =>
        packFrame(JSON.stringify({ type: "call", id, method: "echo", input: { json: 0, meta: { values: [["custom", "Uint8Array"]], v: 1 } } }), [new Uint8Array(size)]);
      raw.send(call(1, MAX_FRAME + 1));
      const refused = await raw.next((f) => f.type === "error");
      assert.deepEqual([refused.id, refused.code], [null, "PAYLOAD_TOO_LARGE"]);
      raw.send(call(2, MAX_FRAME - 200));
      const ok = await raw.next((f) => f.id === 2);
      assert.equal(ok.type, "result");
      assert.equal(ok.$attachments[0].length, MAX_FRAME - 200);
    } finally {
      await raw.close();
    }
  });

  it("malformed binary frames get typed errors and the connection keeps serving", async () => {
    const raw = await openRaw(server.url);
    try {
      const frame = (id: number, type: string, json: unknown) =>
        JSON.stringify({ type: "call", id, method: "echo", input: { json, meta: { values: [["custom", type]], v: 1 } } });
      // Lengths that do not add up: a header longer than the frame.
      raw.send(new Uint8Array([0, 0, 1, 0, 123]));
      assert.deepEqual(pick(await raw.next((f) => f.type === "error")), [null, "BAD_REQUEST"]);
      raw.send(packFrame(frame(2, "Uint8Array", 1), [new Uint8Array(3)]));
      assert.deepEqual(pick(await raw.next((f) => f.id === 2)), [2, "BAD_REQUEST"]);
      raw.send(packFrame(frame(3, "Float64Array", 0), [new Uint8Array(5)]));
      assert.deepEqual(pick(await raw.next((f) => f.id === 3)), [3, "BAD_REQUEST"]);
      raw.send(packFrame(frame(4, "SharedArrayBuffer", 0), [new Uint8Array(8)]));
      assert.deepEqual(pick(await raw.next((f) => f.id === 4)), [4, "BAD_REQUEST"]);
      raw.send(frame(5, "Uint8Array", "not base64!"));
      assert.deepEqual(pick(await raw.next((f) => f.id === 5)), [5, "BAD_REQUEST"]);
      raw.send(frame(6, "Uint8Array", "AQID"));
      const ok = await raw.next((f) => f.id === 6);
      assert.equal(ok.type, "result", "base64 text in a text frame is accepted too");
      assert.deepEqual([...ok.$attachments[0]], [1, 2, 3]);
    } finally {
      await raw.close();
    }
  });

  it("a value the codec cannot carry is refused at the client with its path, and nothing is sent", async () => {
    const input = { items: [0, 1, 2, { blob: new Blob(["x"]) }] };
    await assert.rejects(client.api.echo(input), (e) => e instanceof RpcError && e.code === "BAD_REQUEST" && (e.data as { path: string }).path === "items.3.blob");
    await assert.rejects(client.api.echo({ list: [1, , 3] }), (e) => e instanceof RpcError && (e.data as { path: string }).path === "list.1");
    assert.equal(await client.api.echo("still serving"), "still serving");
  });

  it("a handler output the codec cannot carry is refused at the server: INTERNAL to the caller, a warning naming the path", async () => {
    await assert.rejects(client.api.blob(), (e) => e instanceof RpcError && e.code === "INTERNAL");
    assert.ok(warnings.some((w) => w.includes("items.3.blob")), warnings.join("\n"));
  });
});

describe(`binary frames and the rate limit on ${RUNTIME}`, () => {
  let server: RunningServer;

  before(async () => {
    const service = createService(contract, { echo: (x) => x, inspect: () => "", blob: () => null, shout: () => {}, feed: {} }, {
      limits: { ratePerSecond: 1, rateBurst: 5 },
    });
    server = await serve(service);
  });
  after(async () => {
    await server?.stop();
  });

  it("every binary frame takes a token: past the burst they are refused TOO_MANY_REQUESTS like text frames", async () => {
    const raw = await openRaw(server.url);
    try {
      const input = { json: 0, meta: { values: [["custom", "Uint8Array"]], v: 1 } };
      for (let id = 1; id <= 8; id++) raw.send(packFrame(JSON.stringify({ type: "call", id, method: "echo", input }), [new Uint8Array([id])]));
      const refused = await raw.next((f) => f.type === "error" && f.code === "TOO_MANY_REQUESTS");
      assert.equal(refused.id, null);
      await until(() => raw.frames.filter((f) => f.type === "result").length === 5, 5000, "the five frames within the burst");
      assert.equal(raw.frames.filter((f) => f.type === "result").length, 5);
    } finally {
      await raw.close();
    }
  });

  it("a split frame takes one token, its attachments none: as many split frames as the burst are answered", async () => {
    const raw = await openRaw(server.url);
    try {
      for (let id = 1; id <= 8; id++) sendSplit(raw, callText(id), [new Uint8Array(65_536).fill(id)]);
      const refused = await raw.next((f) => f.type === "error");
      assert.deepEqual(pick(refused), [null, "TOO_MANY_REQUESTS"]);
      await until(() => raw.frames.filter((f) => f.type === "result").length === 5, 5000, "the five frames within the burst");
      assert.deepEqual(raw.frames.filter((f) => f.type === "result").map((f) => [f.id, f.$attachments[0][0]]), [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]);
      assert.deepEqual(raw.frames.filter((f) => f.type === "error").map(pick), [[null, "TOO_MANY_REQUESTS"]], "no error for the skipped attachments");
    } finally {
      await raw.close();
    }
  });
});

describe(`binary payloads over the HTTP fallback on ${RUNTIME}`, () => {
  let server: RunningServer;

  before(async () => {
    const service = createService(contract, {
      echo: (x) => x,
      inspect: (x) => describeValue(x),
      blob: () => null,
      shout: (x, ctx) => ctx.publish("feed", undefined, x),
      feed: {},
    });
    server = await serve(service);
  });
  after(async () => {
    await server?.stop();
  });

  it("calls, server messages and client publishes carry binary exactly when WebSocket is refused (frames as base64 lines)", async () => {
    // Every WebSocket dial is refused (nothing listens on port 9): the client goes over HTTP.
    class Refused extends WebSocket {
      constructor(_url: string | URL, protocols?: string | string[]) {
        super("ws://127.0.0.1:9/", protocols);
      }
    }
    const dial = () => {
      const fallback = httpFallback({ WebSocket: Refused as typeof WebSocket, probeInterval: 60_000 });
      return { fallback, client: createClient<typeof contract>(server.url, { WebSocket: fallback.WebSocket }) };
    };
    const a = dial();
    const b = dial();
    try {
      await Promise.all([a.client.ready(), b.client.ready()]);
      assert.deepEqual([a.fallback.transport, b.fallback.transport], ["http", "http"]);
      const value = { ...everyKind(), nested: nested() };
      assert.deepStrictEqual(await a.client.api.echo(value), value);
      assert.equal(await a.client.api.inspect(Uint8Array.from({ length: 9 }, (_, i) => i).subarray(5)), "Uint8Array length 4 [5,6,7,8]");
      // A large value: the client sends it split, each message a line of its own; the server answers it joined (one line).
      const big = Uint8Array.from({ length: 70_000 }, (_, i) => i & 255);
      assert.deepStrictEqual(await a.client.api.echo(big), big);
      const got: unknown[] = [];
      const sub = b.client.api.feed.subscribe(undefined, { onData: (m) => void got.push(m) });
      await sub.ready;
      await a.client.api.shout(value);
      await a.client.api.feed.publish(undefined, new Float64Array([1, NaN]));
      await until(() => got.length === 2, 5000, "both messages over HTTP");
      assert.deepStrictEqual(got, [value, new Float64Array([1, NaN])]);
    } finally {
      a.client.close();
      b.client.close();
    }
  });
});

/** An error frame's id and code. */
function pick(frame: Record<string, unknown>): unknown[] {
  return [frame.id, frame.code];
}

/** How the server sees a binary value: its kind, its byte length and its bytes. */
function describeValue(value: unknown): string {
  const view = value as ArrayBufferView;
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  return `${view.constructor.name} length ${view.byteLength} [${bytes.join(",")}]`;
}
