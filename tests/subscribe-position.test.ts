/**
 * The position announced in `subscribed` is exactly the last offset before the first event the
 * subscription delivers (PROTOCOL.md §4), whatever is published meanwhile: fast-check interleaves
 * subscribes (with and without `since`), unsubscribes and publishes, sending each batch in one TCP
 * write to real servers, on the memory broker and on two instances sharing a real redis-server.
 * Every subscriber's events must follow the announced position (or `since`, when recovered) one by
 * one, with nothing repeated or skipped, up to the last message. Seed: `POSITION_SEED`; runs:
 * `POSITION_RUNS`.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as v from "valibot";
import type { Broker } from "../server/broker/broker.ts";
import { createRedisBroker } from "../server/broker/redis.ts";
import { createService, defineContract, procedure, type RunningServer, type Service, topic } from "../server/mod.ts";
import type { Frame } from "./fixtures/raw-socket.ts";
import { redisMissing, type RedisProcess, startRedis } from "./fixtures/redis.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";
import { connectTcp, type TcpClient } from "./fixtures/tcp-client.ts";

const Room = v.object({ room: v.string() });
const contract = defineContract({
  long: topic({ params: Room, message: v.number(), history: { size: 1000 } }),
  // History shorter than some gaps: recovery answers `recovered: false` and the rule still holds.
  short: topic({ params: Room, message: v.number(), history: { size: 3 } }),
  // With presence: its state comes after `subscribed` and before any live event.
  lobby: topic({ params: Room, message: v.number(), presence: v.object({}) }),
  send: procedure({ input: v.object({ topic: v.picklist(["long", "short", "lobby"]), room: v.string(), count: v.number() }) }),
});
type TopicName = "long" | "short";

function makeService(broker?: Broker): Service<typeof contract, undefined> {
  return createService(contract, {
    lobby: { presence: (_params, ctx) => ({ key: ctx.connectionId, meta: {} }) },
    // Answered once the broker took every message: the test reads the last offset after the answers.
    send: ({ topic, room, count }, ctx) => Promise.all(Array.from({ length: count }, (_, i) => ctx.publish(topic, { room }, i))).then(() => {}),
  }, { limits: { ratePerSecond: Infinity }, ...(broker === undefined ? {} : { broker }) });
}

/** One step: frames a subscriber sends in one write, publishes sent in one write from some peer, or a wait. */
type Step =
  | { kind: "frames"; peer: number; frames: Command[] }
  | { kind: "settle" };
type Command =
  | { op: "subscribe"; topic: TopicName; since: "none" | "last" | "behind" | "stale"; behind: number }
  | { op: "unsubscribe"; topic: TopicName }
  | { op: "send"; topic: TopicName; count: number };

const topicArb = fc.constantFrom<TopicName>("long", "short");
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant("subscribe" as const), topic: topicArb, since: fc.constantFrom("none", "last", "behind", "stale") as fc.Arbitrary<"none" | "last" | "behind" | "stale">, behind: fc.nat(6) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("unsubscribe" as const), topic: topicArb }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("send" as const), topic: topicArb, count: fc.integer({ min: 1, max: 3 }) }) },
);
const stepArb = (peers: number): fc.Arbitrary<Step> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant("frames" as const), peer: fc.nat(peers - 1), frames: fc.array(commandArb, { minLength: 1, maxLength: 5 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("settle" as const) }) },
  );

/** A peer's view of one topic instance, checked frame by frame. */
interface View {
  subscribed: boolean;
  /** The offset the next event must have. */
  next: number;
  epoch: string;
}

/** A test client: the frames it sent and got, and its view of each instance it subscribes to. */
class Peer {
  readonly requests = new Map<string, Record<string, unknown>>();
  readonly views = new Map<string, View>();
  private checked = 0;
  private id = 0;
  constructor(readonly tcp: TcpClient) {}

  frameOf(command: Command, room: string): Record<string, unknown> {
    const id = `${command.op[0]}${++this.id}`;
    let frame: Record<string, unknown>;
    if (command.op === "send") frame = { type: "call", id, method: "send", input: { json: { topic: command.topic, room, count: command.count } } };
    else if (command.op === "unsubscribe") frame = { type: "unsubscribe", id, topic: command.topic, key: JSON.stringify({ room }) };
    else {
      frame = { type: "subscribe", id, topic: command.topic, params: { json: { room } } };
      const seen = this.views.get(command.topic);
      if (command.since === "stale") frame.since = { epoch: "stale", offset: 0 };
      else if (command.since !== "none" && seen !== undefined) {
        const last = seen.next - 1;
        frame.since = { epoch: seen.epoch, offset: Math.max(0, command.since === "last" ? last : last - command.behind) };
      }
    }
    this.requests.set(id, frame);
    return frame;
  }

  /** Checks every frame received since the last check against the rule; throws at the first break. */
  check(): void {
    const frames = this.tcp.frames;
    for (; this.checked < frames.length; this.checked++) {
      const raw = frames[this.checked]!;
      if (raw.kind !== "text") continue;
      const f = JSON.parse(raw.text) as Frame;
      const where = () => `frame ${this.checked} ${raw.text} after ${JSON.stringify(this.views.get(f.topic))}`;
      if (f.type === "subscribed") {
        const request = this.requests.get(f.id)!;
        const view = this.views.get(f.topic);
        if (view?.subscribed) {
          assert.equal(f.offset, view.next - 1, `subscribing again announces the last offset delivered: ${where()}`);
          continue;
        }
        const since = request.since as { epoch: string; offset: number } | undefined;
        if (since !== undefined && f.recovered) {
          assert.equal(f.epoch, since.epoch, where());
          assert.ok(since.offset <= f.offset, where());
        }
        this.views.set(f.topic, { subscribed: true, epoch: f.epoch, next: (since !== undefined && f.recovered ? since.offset : f.offset) + 1 });
      } else if (f.type === "event") {
        const view = this.views.get(f.topic);
        assert.ok(view?.subscribed, `an event only while subscribed: ${where()}`);
        assert.equal(f.offset, view.next, `events follow the announced position one by one: ${where()}`);
        view.next++;
      } else if (f.type === "unsubscribed") {
        const view = this.views.get(f.topic);
        if (view !== undefined) view.subscribed = false;
      } else if (f.type === "error") {
        assert.fail(`no request of this test fails: ${raw.text}`);
      }
    }
  }

  /** Requests not answered yet. */
  unanswered(): number {
    const answered = new Set<string>();
    for (const raw of this.tcp.frames) {
      if (raw.kind !== "text") continue;
      const f = JSON.parse(raw.text) as Frame;
      if (f.type === "result" || f.type === "subscribed" || f.type === "unsubscribed") answered.add(f.id);
    }
    return this.requests.size - answered.size;
  }
}

/** Runs the property against subscribers on `urls[0]` and publishers on every url. */
async function property(urls: string[], position: (channel: string) => Promise<number>, runs: number, seed: number): Promise<void> {
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(stepArb(3), { minLength: 2, maxLength: 12 }), async (steps) => {
      const room = `${RUNTIME}-${seed}-${++run}`;
      // Peers 0 and 1 on the first server, peer 2 on the last (the other instance, with Redis).
      const peers = await Promise.all([urls[0]!, urls[0]!, urls.at(-1)!].map(async (url) => {
        const tcp = await connectTcp(url);
        await tcp.next((f) => f.kind === "text");
        return new Peer(tcp);
      }));
      try {
        for (const step of steps) {
          if (step.kind === "settle") {
            await until(() => peers.every((p) => p.unanswered() === 0), 5000, "every request answered");
          } else {
            const peer = peers[step.peer]!;
            peer.tcp.sendAll(step.frames.map((command) => peer.frameOf(command, room)));
          }
          for (const peer of peers) peer.check();
        }
        await until(() => peers.every((p) => p.unanswered() === 0), 5000, "every request answered");
        // Every subscriber gets up to the last message published, and nothing after it.
        const lasts = new Map<string, number>();
        for (const name of ["long", "short"] as const) {
          const last = await position(`${name}:${JSON.stringify({ room })}`);
          lasts.set(name, last);
          for (const peer of peers) {
            await until(() => (peer.check(), !peer.views.get(name)?.subscribed || peer.views.get(name)!.next - 1 >= last), 5000, `${name} up to ${last}`);
          }
        }
        peers.forEach((peer) => peer.tcp.send({ type: "ping" }));
        await Promise.all(peers.map((peer) => peer.tcp.next((f) => f.kind === "text" && JSON.parse(f.text).type === "pong")));
        for (const peer of peers) {
          peer.check();
          for (const [name, view] of peer.views) if (view.subscribed) assert.equal(view.next - 1, lasts.get(name), `${name}: nothing after the last message`);
        }
      } finally {
        for (const peer of peers) peer.tcp.destroy();
      }
    }),
    { numRuns: runs, seed },
  );
}

/** The frames of a raw client, parsed. */
const parsed = (tcp: TcpClient): Frame[] => tcp.frames.flatMap((f) => (f.kind === "text" ? [JSON.parse(f.text) as Frame] : []));

const seed = Number(process.env.POSITION_SEED ?? Date.now() % 2 ** 31);

describe(`the position announced in subscribed, on ${RUNTIME} and the memory broker`, () => {
  const service = makeService();
  let server: RunningServer;
  before(async () => {
    server = await serve(service);
  });
  after(() => server.stop());

  it("random subscribes (with and without since), unsubscribes and publishes in single writes: events follow the announced position one by one", async () => {
    const broker = service.options.broker;
    await property([server.url], async (channel) => (await broker.position(channel)).offset, Number(process.env.POSITION_RUNS ?? 80), seed);
  });

  it("regression: subscribe and two sends in one write announce the offset before the first event (Deno announced 2, then sent 2 and 3)", async () => {
    const tcp = await connectTcp(server.url);
    try {
      const send = (id: number) => ({ type: "call", id, method: "send", input: { json: { topic: "long", room: "one-write", count: 1 } } });
      tcp.send(send(100));
      await tcp.next((f) => f.kind === "text" && JSON.parse(f.text).id === 100);
      tcp.sendAll([{ type: "subscribe", id: "s", topic: "long", params: { json: { room: "one-write" } } }, send(1), send(2)]);
      await tcp.next((f) => f.kind === "text" && JSON.parse(f.text).offset === 3);
      const frames = parsed(tcp);
      const subscribed = frames.find((f) => f.type === "subscribed")!;
      const events = frames.filter((f) => f.type === "event").map((f) => f.offset);
      assert.deepEqual(events, Array.from({ length: 3 - subscribed.offset }, (_, i) => subscribed.offset + 1 + i));
    } finally {
      tcp.destroy();
    }
  });

  it("with presence, in one write with publishes: subscribed, then the presence state, then the events that follow the announced offset", async () => {
    const tcp = await connectTcp(server.url);
    try {
      const send = (id: number) => ({ type: "call", id, method: "send", input: { json: { topic: "lobby", room: "order", count: 2 } } });
      tcp.sendAll([send(1), { type: "subscribe", id: "s", topic: "lobby", params: { json: { room: "order" } } }, send(2), send(3)]);
      await tcp.next((f) => f.kind === "text" && JSON.parse(f.text).offset === 6);
      const order = parsed(tcp).filter((f) => f.type !== "result" && f.type !== "hello").map((f) => f.type === "event" ? `event ${f.offset}` : f.type);
      const announced = parsed(tcp).find((f) => f.type === "subscribed")!.offset as number;
      const events = Array.from({ length: 6 - announced }, (_, i) => `event ${announced + 1 + i}`);
      assert.deepEqual(order.slice(0, 2 + events.length), ["subscribed", "presence", ...events]);
    } finally {
      tcp.destroy();
    }
  });
});

const skip = redisMissing();

describe(`the position announced in subscribed, on ${RUNTIME} and two instances sharing Redis`, { skip }, () => {
  let redis: RedisProcess;
  const services: Service<typeof contract, undefined>[] = [];
  const servers: RunningServer[] = [];
  before(async () => {
    redis = await startRedis();
    for (let i = 0; i < 2; i++) {
      const service = makeService(await createRedisBroker(redis.url));
      services.push(service);
      servers.push(await serve(service));
    }
  });
  after(async () => {
    for (const server of servers) await server.stop();
    await redis?.stop();
  });

  it("subscribers on one instance, publishers on both: events follow the announced position one by one", async () => {
    const broker = services[0]!.options.broker;
    await property(servers.map((s) => s.url), async (channel) => (await broker.position(channel)).offset, Number(process.env.POSITION_RUNS ?? 30), seed);
  });
});
