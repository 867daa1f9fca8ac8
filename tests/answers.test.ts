/**
 * Every frame with an id gets exactly one answer (PROTOCOL.md §3), proved with fast-check over random
 * interleavings of call, cancel, subscribe, unsubscribe, publish and close, sent in single TCP writes
 * to a real server on the runtime running the tests; the server's maps end empty. The single answers
 * PROTOCOL.md states are in answers-stated.test.ts. Seed: `ANSWERS_SEED`; runs: `ANSWERS_RUNS`.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { RunningServer } from "../server/mod.ts";
import { makeService, MAX_SUBSCRIPTIONS } from "./fixtures/answers-service.ts";
import type { Frame } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";
import { connectTcp, type TcpClient } from "./fixtures/tcp-client.ts";

type TopicName = "feed" | "gated" | "notes";
/** One client frame as generated; ids and rooms are filled in when it is sent. */
type Command =
  | { op: "send"; room: number }
  | { op: "slow"; ms: number }
  | { op: "cancel"; back: number }
  | { op: "subscribe"; topic: TopicName; room: number; since: number | undefined; again: boolean }
  | { op: "unsubscribe"; topic: TopicName; room: number; again: boolean }
  | { op: "publish"; room: number }
  | { op: "reuse" };
/** One step: frames one peer sends in one write, then what it does; or a publish by the server. */
type Step = { peer: 0 | 1; frames: Command[]; then: "go-on" | "settle" | "close" } | { peer: -1; serverPublish: number };

const ROOMS = ["a", "b", "no"];
const topicArb = fc.constantFrom<TopicName>("feed", "gated", "notes");
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ op: fc.constant("send" as const), room: fc.nat(2) }),
  fc.record({ op: fc.constant("slow" as const), ms: fc.nat(15) }),
  fc.record({ op: fc.constant("cancel" as const), back: fc.nat(3) }),
  // `again`: the topic instance of the peer's previous subscribe, so that frames about one instance meet often.
  { weight: 3, arbitrary: fc.record({ op: fc.constant("subscribe" as const), topic: topicArb, room: fc.nat(2), since: fc.option(fc.nat(4), { nil: undefined }), again: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("unsubscribe" as const), topic: topicArb, room: fc.nat(2), again: fc.boolean() }) },
  fc.record({ op: fc.constant("publish" as const), room: fc.nat(2) }),
  fc.record({ op: fc.constant("reuse" as const) }),
);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ peer: fc.constantFrom<0 | 1>(0, 1), frames: fc.array(commandArb, { minLength: 1, maxLength: 6 }), then: fc.constantFrom("go-on", "go-on", "settle", "close") as fc.Arbitrary<"go-on" | "settle" | "close"> }) },
  { weight: 1, arbitrary: fc.record({ peer: fc.constant(-1 as const), serverPublish: fc.nat(2) }) },
);

/** A client of the property: what it sent by id, and the frames it got. */
interface Peer {
  tcp: TcpClient;
  connectionId: string;
  /** Requests sent per id (as JSON), with the type of each. */
  sent: Map<string, string[]>;
  /** Call ids in the order sent, for cancels. */
  calls: (string | number)[];
  lastId: string | number | undefined;
  /** Topic and room of the previous subscribe. */
  lastInstance: { topic: TopicName; room: number } | undefined;
  closed: boolean;
  nextId: number;
}

const textFrames = (peer: Peer): Frame[] => peer.tcp.frames.flatMap((f) => (f.kind === "text" ? [JSON.parse(f.text) as Frame] : []));
const ANSWERS = new Set(["result", "error", "subscribed", "unsubscribed"]);
/** Answers received per request id (as JSON); hello, events, presence and pongs carry none. */
function answers(peer: Peer): Map<string, Frame[]> {
  const out = new Map<string, Frame[]>();
  for (const f of textFrames(peer)) {
    if (!ANSWERS.has(f.type) || (f.type === "unsubscribed" && f.id === null)) continue;
    const key = JSON.stringify(f.id);
    out.set(key, [...(out.get(key) ?? []), f]);
  }
  return out;
}
const EXPECTED: Record<string, string[]> = { call: ["result", "error"], subscribe: ["subscribed", "error"], unsubscribe: ["unsubscribed", "error"], publish: ["result", "error"] };

describe(`every frame with an id gets exactly one answer on ${RUNTIME}`, () => {
  const service = makeService();
  let server: RunningServer;
  let run = 0;
  before(async () => {
    server = await serve(service);
  });
  after(() => server.stop());

  async function open(): Promise<Peer> {
    const tcp = await connectTcp(server.url);
    const hello = JSON.parse(((await tcp.next((f) => f.kind === "text")) as { text: string }).text);
    return { tcp, connectionId: hello.connectionId, sent: new Map(), calls: [], lastId: undefined, lastInstance: undefined, closed: false, nextId: 1 };
  }

  /** The frame of one command; ids are fresh except for "reuse", which repeats the previous request's id. */
  function frameOf(peer: Peer, command: Command, prefix: string): { frame: Record<string, unknown>; type: string } {
    const n = peer.nextId++;
    const id = command.op === "reuse" && peer.lastId !== undefined ? peer.lastId : command.op === "subscribe" ? `s${n}` : command.op === "unsubscribe" ? `u${n}` : n;
    const room = (n: number) => `${prefix}${ROOMS[n]}`;
    switch (command.op) {
      case "send":
        return { type: "call", frame: { type: "call", id, method: "send", input: { json: { room: room(command.room), n: 1 } } } };
      case "slow":
      case "reuse":
        return { type: "call", frame: { type: "call", id, method: "slow", input: { json: command.op === "slow" ? command.ms : 5 } } };
      case "cancel":
        return { type: "cancel", frame: { type: "cancel", id: peer.calls.at(-1 - command.back) ?? 999_999 } };
      case "subscribe": {
        const { topic, room: r } = (command.again ? peer.lastInstance : undefined) ?? command;
        peer.lastInstance = { topic, room: r };
        const frame: Record<string, unknown> = { type: "subscribe", id, topic, params: { json: { room: room(r) } } };
        const epoch = epochs.get(`${topic}:${room(r)}`);
        if (command.since !== undefined) frame.since = { epoch: epoch ?? "unknown", offset: command.since };
        return { type: "subscribe", frame };
      }
      case "unsubscribe": {
        const { topic, room: r } = (command.again ? peer.lastInstance : undefined) ?? command;
        return { type: "unsubscribe", frame: { type: "unsubscribe", id, topic, key: JSON.stringify({ room: room(r) }) } };
      }
      case "publish":
        return { type: "publish", frame: { type: "publish", id, topic: "notes", params: { json: { room: room(command.room) } }, data: { json: "hi" } } };
    }
  }
  const epochs = new Map<string, string>();

  /** Requests sent but not answered yet, per peer. */
  function unanswered(peer: Peer): number {
    const got = answers(peer);
    let missing = 0;
    for (const [id, types] of peer.sent) missing += Math.max(0, types.length - (got.get(id)?.length ?? 0));
    return missing;
  }

  it("random interleavings of call, cancel, subscribe, unsubscribe, publish and close, each batch in one write: one answer per request, maps empty after", async () => {
    const seed = Number(process.env.ANSWERS_SEED ?? Date.now() % 2 ** 31);
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 8 }), async (steps) => {
        const prefix = `r${++run}-`;
        const peers = [await open(), await open()];
        try {
          for (const step of steps) {
            if ("serverPublish" in step) {
              service.publish("feed", { room: `${prefix}${ROOMS[step.serverPublish]}` }, { n: 0 });
              continue;
            }
            const peer = peers[step.peer]!;
            if (peer.closed) continue;
            const batch = step.frames.map((command) => {
              const { frame, type } = frameOf(peer, command, prefix);
              if (type !== "cancel") {
                const key = JSON.stringify(frame.id);
                peer.sent.set(key, [...(peer.sent.get(key) ?? []), type]);
                peer.lastId = frame.id as string | number;
                if (type === "call") peer.calls.push(frame.id as string | number);
              }
              return frame;
            });
            peer.tcp.sendAll(batch);
            if (step.then === "close") {
              peer.closed = true;
              peer.tcp.destroy();
            } else if (step.then === "settle") {
              await until(() => unanswered(peer) === 0, 5000, "every request of the batch answered");
            }
            for (const f of textFrames(peer)) if (f.type === "subscribed") epochs.set(`${f.topic}:${JSON.parse(f.key).room}`, f.epoch);
          }
          for (const peer of peers) {
            const got = () => answers(peer);
            if (peer.closed) {
              // Whatever arrived before the close: never two answers for one request.
              for (const [id, list] of got()) assert.ok(list.length <= (peer.sent.get(id)?.length ?? 0), `answers for ${id}: ${JSON.stringify(list)}`);
              continue;
            }
            await until(() => unanswered(peer) === 0, 5000, `every request answered (${JSON.stringify([...peer.sent])})`);
            const conn = service.connections.get(peer.connectionId)!;
            await until(() => conn.inflight.size === 0 && conn.awaiting.size === 0 && conn.channelWork.size === 0, 5000, "the connection's request maps empty");
            // A ping's pong comes after every answer already sent: an extra answer would be here by now.
            peer.tcp.send({ type: "ping", ts: run });
            await peer.tcp.next((f) => f.kind === "text" && JSON.parse(f.text).type === "pong");
            for (const [id, types] of peer.sent) {
              const list = got().get(id) ?? [];
              assert.equal(list.length, types.length, `request ${id} (${types}) answered by ${JSON.stringify(list)}`);
              if (types.length === 1) assert.ok(EXPECTED[types[0]!]!.includes(list[0]!.type), `${types[0]} ${id} answered ${JSON.stringify(list[0])}`);
            }
            for (const id of got().keys()) assert.ok(peer.sent.has(id), `answer to a request never sent: ${id}`);
            assert.equal(conn.subscriptions.count() <= MAX_SUBSCRIPTIONS, true);
          }
        } finally {
          for (const peer of peers) peer.tcp.destroy();
        }
        await until(() => {
          const s = service.stats();
          return s.connections === 0 && s.channels === 0 && s.rooms === 0 && s.presence === 0 && s.inflight === 0 && s.queued === 0;
        }, 5000, `every map empty after close: ${JSON.stringify(service.stats())}`);
      }),
      { numRuns: Number(process.env.ANSWERS_RUNS ?? 100), seed },
    );
  });
});
