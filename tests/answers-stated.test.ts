/**
 * Each answer PROTOCOL.md §3 and §4 states, over raw sockets on the runtime running the tests: a
 * failed subscribe's error carries its id, unsubscribing from what is not held, one subscribe and
 * unsubscribe write, cancel of nothing, ids shared by a subscribe and a call, unparsed frames, the
 * subscription limit.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunningServer } from "../server/mod.ts";
import { makeService } from "./fixtures/answers-service.ts";
import type { Frame } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";
import { connectTcp, type TcpClient } from "./fixtures/tcp-client.ts";

describe(`the answers PROTOCOL.md §3 and §4 state, over raw sockets on ${RUNTIME}`, () => {
  const service = makeService();
  let server: RunningServer;
  before(async () => {
    server = await serve(service);
  });
  after(() => server.stop());

  /** Sends frames in one write and returns the frames received until a pong (which follows every answer already sent). */
  async function exchange(tcp: TcpClient, frames: unknown[], settle: (got: Frame[]) => boolean = () => true): Promise<Frame[]> {
    const start = tcp.frames.length;
    tcp.sendAll(frames);
    const got = () => tcp.frames.slice(start).flatMap((f) => (f.kind === "text" ? [JSON.parse(f.text) as Frame] : []));
    await until(() => settle(got()), 5000, "the answers");
    const ts = Math.random();
    tcp.send({ type: "ping", ts });
    await tcp.next((f) => f.kind === "text" && JSON.parse(f.text).ts === ts);
    return got().filter((f) => f.type !== "pong");
  }
  const withId = (frames: Frame[], id: unknown) => frames.filter((f) => f.id === id);

  it("a failed subscribe's error carries its id: unknown topic, invalid params, refused by authorize", async () => {
    const tcp = await connectTcp(server.url);
    try {
      const got = await exchange(tcp, [
        { type: "subscribe", id: "nf", topic: "nope", params: { json: { room: "a" } } },
        { type: "subscribe", id: "bad", topic: "feed", params: { json: { room: 1 } } },
        { type: "subscribe", id: "no", topic: "gated", params: { json: { room: "no" } } },
      ], (frames) => frames.length === 3);
      assert.deepEqual(got.map((f) => [f.type, f.id, f.code]).sort(), [["error", "bad", "INVALID_INPUT"], ["error", "nf", "NOT_FOUND"], ["error", "no", "FORBIDDEN"]]);
    } finally {
      tcp.destroy();
    }
  });

  it("unsubscribing from an instance not held (never subscribed, an unknown topic, a second time) is answered unsubscribed", async () => {
    const tcp = await connectTcp(server.url);
    try {
      const key = JSON.stringify({ room: "u" });
      const got = await exchange(tcp, [
        { type: "subscribe", id: "s", topic: "feed", params: { json: { room: "u" } } },
        { type: "unsubscribe", id: "u1", topic: "feed", key },
        { type: "unsubscribe", id: "u2", topic: "feed", key },
        { type: "unsubscribe", id: "u3", topic: "feed", key: "not a key" },
        { type: "unsubscribe", id: "u4", topic: "nope", key: "" },
      ], (frames) => frames.filter((f) => f.type === "unsubscribed").length === 4);
      assert.deepEqual(got.map((f) => `${f.type} ${f.id}`).sort(), ["subscribed s", "unsubscribed u1", "unsubscribed u2", "unsubscribed u3", "unsubscribed u4"]);
      // Frames about one instance are answered in the order sent; others need not wait for them.
      assert.deepEqual(got.filter((f) => ["s", "u1", "u2"].includes(f.id)).map((f) => f.id), ["s", "u1", "u2"]);
    } finally {
      tcp.destroy();
    }
  });

  it("regression: subscribe then unsubscribe of one instance in one write are both answered, in that order (Deno left the subscribe unanswered)", async () => {
    const tcp = await connectTcp(server.url);
    try {
      const got = await exchange(tcp, [
        { type: "subscribe", id: "s", topic: "gated", params: { json: { room: "x" } } },
        { type: "unsubscribe", id: "u", topic: "gated", key: JSON.stringify({ room: "x" }) },
      ], (frames) => frames.some((f) => f.id === "u"));
      assert.deepEqual(got.map((f) => `${f.type} ${f.id}`), ["subscribed s", "unsubscribed u"]);
      assert.equal(service.connections.size > 0 && [...service.connections.values()].every((c) => c.subscriptions.count() === 0), true);
    } finally {
      tcp.destroy();
    }
  });

  it("cancel has no answer of its own: an unknown id, a finished call or a subscribe's id is ignored; a call in flight is answered CANCELLED once", async () => {
    const tcp = await connectTcp(server.url);
    try {
      const got = await exchange(tcp, [
        { type: "call", id: 1, method: "slow", input: { json: 0 } },
        { type: "cancel", id: 424242 },
        { type: "subscribe", id: "s", topic: "gated", params: { json: { room: "c" } } },
        { type: "cancel", id: "s" },
        { type: "call", id: 2, method: "slow", input: { json: 10_000 } },
        { type: "cancel", id: 2 },
        { type: "cancel", id: 2 },
      ], (frames) => frames.filter((f) => f.id !== undefined).length >= 3);
      const later = await exchange(tcp, [{ type: "cancel", id: 1 }]);
      assert.deepEqual(got.filter((f) => f.id !== undefined).map((f) => `${f.type} ${f.id} ${f.code ?? ""}`).sort(), ["error 2 CANCELLED", "result 1 ", "subscribed s "]);
      assert.deepEqual(later, []);
    } finally {
      tcp.destroy();
    }
  });

  it("a subscribe and a call may not share an id while either awaits its answer: the later one gets DUPLICATE_ID, the first its own answer", async () => {
    const tcp = await connectTcp(server.url);
    try {
      const first = await exchange(tcp, [
        { type: "subscribe", id: 7, topic: "gated", params: { json: { room: "d" } } },
        { type: "call", id: 7, method: "slow", input: { json: 0 } },
      ], (frames) => frames.length === 2);
      assert.deepEqual(first.map((f) => `${f.type} ${f.code ?? ""}`), ["error DUPLICATE_ID", "subscribed "]);
      const second = await exchange(tcp, [
        { type: "call", id: "c", method: "slow", input: { json: 30 } },
        { type: "subscribe", id: "c", topic: "feed", params: { json: { room: "d" } } },
        { type: "publish", id: "c", topic: "notes", params: { json: { room: "d" } }, data: { json: "x" } },
        { type: "unsubscribe", id: "c", topic: "feed", key: "{}" },
      ], (frames) => frames.length === 4);
      assert.deepEqual(second.map((f) => `${f.type} ${f.code ?? ""}`), ["error DUPLICATE_ID", "error DUPLICATE_ID", "error DUPLICATE_ID", "result "]);
      // Answered: the id is free again, for any kind of request.
      const third = await exchange(tcp, [{ type: "subscribe", id: "c", topic: "feed", params: { json: { room: "d" } } }], (frames) => frames.length === 1);
      assert.deepEqual(third.map((f) => `${f.type} ${f.id}`), ["subscribed c"]);
    } finally {
      tcp.destroy();
    }
  });

  it("a frame the server did not parse (deeper than maxDepth, over maxFrameBytes, not JSON) is answered with id null", async () => {
    const tcp = await connectTcp(server.url);
    try {
      const deep = `{"type":"call","id":5,"method":"slow","input":{"json":${"[".repeat(40)}0${"]".repeat(40)}}}`;
      const long = JSON.stringify({ type: "call", id: 6, method: "slow", input: { json: "x".repeat(service.options.limits.maxFrameBytes) } });
      const got = await exchange(tcp, [deep, long, '{"type":"call","id":7,'], (frames) => frames.length === 3);
      assert.deepEqual(got.map((f) => `${f.id} ${f.code}`), ["null PAYLOAD_TOO_LARGE", "null PAYLOAD_TOO_LARGE", "null PARSE_ERROR"]);
    } finally {
      tcp.destroy();
    }
  });

  it("at the subscription limit, subscribing again to an instance held is answered subscribed with its position; a new instance is refused with the request's id", async () => {
    const tcp = await connectTcp(server.url);
    try {
      const sub = (id: string, room: string) => ({ type: "subscribe", id, topic: "feed", params: { json: { room: `limit-${room}` } } });
      const held = await exchange(tcp, [sub("a", "a"), sub("b", "b"), sub("c", "c")], (frames) => frames.length === 3);
      service.publish("feed", { room: "limit-a" }, { n: 1 });
      const got = await exchange(tcp, [sub("a2", "a"), sub("d", "d")], (frames) => frames.length === 3);
      const first = held.find((f) => f.id === "a")!;
      const again = withId(got, "a2")[0]!;
      assert.deepEqual([again.type, again.epoch, again.offset], ["subscribed", first.epoch, first.offset + 1]);
      assert.deepEqual(withId(got, "d").map((f) => `${f.type} ${f.code}`), ["error TOO_MANY_REQUESTS"]);
      assert.deepEqual(got.filter((f) => f.type === "event").map((f) => f.offset), [first.offset + 1]);
    } finally {
      tcp.destroy();
    }
  });
});
