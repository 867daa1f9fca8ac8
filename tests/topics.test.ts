import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { type Client, createClient, type RpcError } from "../client/mod.ts";
import {
  createService,
  defineContract,
  procedure,
  RpcError as ServerError,
  type RunningServer,
  type Service,
  topic,
} from "../server/mod.ts";
import { openRaw } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";

const contract = defineContract({
  rooms: {
    join: procedure({ input: v.object({ room: v.string() }) }),
    leave: procedure({ input: v.object({ room: v.string() }) }),
    mine: procedure({ output: v.array(v.string()) }),
    members: procedure({ input: v.object({ room: v.string() }), output: v.number() }),
    feed: topic({ params: v.object({ roomId: v.pipe(v.string(), v.minLength(1)) }), message: v.object({ n: v.number(), from: v.string() }) }),
    secret: topic({ params: v.object({ roomId: v.string() }), message: v.string() }),
    chatter: topic({ params: v.object({ roomId: v.string() }), message: v.object({ text: v.string() }), clientPublish: true }),
    lobby: topic({ message: v.string(), presence: v.object({ tab: v.number() }) }),
    stadium: topic({ message: v.string(), presence: v.object({}), presenceMode: "counts" }),
  },
  say: procedure({ input: v.object({ roomId: v.string(), n: v.number(), to: v.picklist(["all", "room", "others", "one"]), room: v.optional(v.string()) }) }),
  admin: { stats: procedure({ output: v.number() }) },
});

interface Auth {
  user: string;
  tab: number;
  admin: boolean;
}

const log: string[] = [];

describe(`topics, rooms, broadcast and presence on ${RUNTIME}`, () => {
  let server: RunningServer;
  let service: Service<typeof contract, Auth>;
  const clients: Client<typeof contract>[] = [];

  function make(): Service<typeof contract, Auth> {
    return createService<typeof contract, Auth>(contract, {
      rooms: {
        join: ({ room }, ctx) => ctx.join(room),
        leave: ({ room }, ctx) => ctx.leave(room),
        mine: (_, ctx) => [...ctx.rooms()].sort(),
        members: ({ room }) => service.roomMembers(room).length,
        secret: { authorize: ({ roomId }, ctx) => roomId === ctx.auth.user },
        chatter: { authorizePublish: (_p, message) => !message.text.includes("spam") },
        lobby: { presence: (_p, ctx) => ({ key: ctx.auth.user, meta: { tab: ctx.auth.tab } }) },
        stadium: { presence: (_p, ctx) => ({ key: ctx.auth.user, meta: {} }) },
      },
      say: ({ roomId, n, to, room }, ctx) => {
        const message = { n, from: ctx.connectionId };
        if (to === "all") ctx.publish("rooms.feed", { roomId }, message);
        if (to === "others") ctx.broadcast("rooms.feed", { roomId }, message);
        if (to === "room") ctx.publish("rooms.feed", { roomId }, message, { room: room! });
        if (to === "one") ctx.publish("rooms.feed", { roomId }, message, { connection: room! });
      },
      admin: { stats: () => service.connections.size },
    }, {
      paths: ["/ws", "/edge"],
      presenceWindow: 40,
      limits: { maxSubscriptions: 8 },
      authenticate: (request) => {
        const q = new URL(request.url).searchParams;
        return { user: q.get("user") ?? "anon", tab: Number(q.get("tab") ?? 0), admin: q.get("admin") === "1" };
      },
      middleware: {
        "": [async (call, next) => {
          log.push(`${call.kind}:${call.path}`);
          return await next();
        }],
        admin: [async (call, next) => {
          if (!call.ctx.auth.admin) throw new ServerError("FORBIDDEN", "Admins only");
          return await next();
        }],
      },
    });
  }

  before(async () => {
    service = make();
    server = await serve(service);
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.stop();
  });

  const connect = async (user: string, extra: Record<string, string> = {}, path = "/ws") => {
    const url = server.url.replace(/\/ws$/, path);
    const client = createClient<typeof contract>(url, { reconnect: false, params: () => ({ user, ...extra }) });
    clients.push(client);
    await client.ready();
    return client;
  };

  it("a subscriber receives typed messages of its topic instance only, in publish order", async () => {
    const a = await connect("a");
    const got: number[] = [];
    const other: number[] = [];
    const sub = a.api.rooms.feed.subscribe({ roomId: "r1" }, { onData: (m) => got.push(m.n) });
    a.api.rooms.feed.subscribe({ roomId: "r2" }, { onData: (m) => other.push(m.n) });
    await sub.ready;
    for (let n = 1; n <= 50; n++) service.publish("rooms.feed", { roomId: "r1" }, { n, from: "server" });
    await until(() => got.length === 50, 3000, "50 messages");
    assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i + 1));
    assert.deepEqual(other, []);
  });

  it("the async iterator yields messages and breaking out unsubscribes", async () => {
    const a = await connect("iter");
    const sub = a.api.rooms.feed.subscribe({ roomId: "iter" });
    await sub.ready;
    setTimeout(() => [1, 2, 3].forEach((n) => service.publish("rooms.feed", { roomId: "iter" }, { n, from: "s" })), 5);
    const seen: number[] = [];
    const channels = service.stats().channels;
    for await (const m of sub) {
      seen.push(m.n);
      if (seen.length === 3) break;
    }
    assert.deepEqual(seen, [1, 2, 3]);
    await until(() => service.stats().channels === channels - 1, 2000, "server-side unsubscribe");
  });

  it("unsubscribe stops delivery", async () => {
    const a = await connect("u");
    const got: number[] = [];
    const sub = a.api.rooms.feed.subscribe({ roomId: "u1" }, { onData: (m) => got.push(m.n) });
    await sub.ready;
    service.publish("rooms.feed", { roomId: "u1" }, { n: 1, from: "s" });
    await until(() => got.length === 1, 2000, "first message");
    sub.unsubscribe();
    const probe = await connect("probe");
    const probeGot: number[] = [];
    await probe.api.rooms.feed.subscribe({ roomId: "u1" }, { onData: (m) => probeGot.push(m.n) }).ready;
    service.publish("rooms.feed", { roomId: "u1" }, { n: 2, from: "s" });
    await until(() => probeGot.length === 1, 2000, "probe message");
    assert.deepEqual(got, [1]);
  });

  it("a subscription with invalid params gets INVALID_INPUT, an unauthorized one FORBIDDEN: never silence", async () => {
    const a = await connect("mallory");
    const errors: string[] = [];
    const bad = a.api.rooms.feed.subscribe({ roomId: "" }, { onError: (e) => errors.push(e.code) });
    await assert.rejects(bad.ready, (e: RpcError) => e.code === "INVALID_INPUT");
    const denied = a.api.rooms.secret.subscribe({ roomId: "alice" }, { onError: (e) => errors.push(e.code) });
    await assert.rejects(denied.ready, (e: RpcError) => e.code === "FORBIDDEN");
    await a.api.rooms.secret.subscribe({ roomId: "mallory" }).ready;
    assert.deepEqual(errors, ["INVALID_INPUT", "FORBIDDEN"]);
  });

  it("publishes reach every subscriber, a room, everyone but the sender, or one connection", async () => {
    const [a, b, c] = [await connect("a"), await connect("b"), await connect("c")];
    const got = new Map<string, number[]>([["a", []], ["b", []], ["c", []]]);
    await Promise.all([[a, "a"], [b, "b"], [c, "c"]].map(([cl, name]) =>
      (cl as Client<typeof contract>).api.rooms.feed.subscribe({ roomId: "t" }, { onData: (m) => got.get(name as string)!.push(m.n) }).ready
    ));
    await b.api.rooms.join({ room: "blue" });
    await c.api.rooms.join({ room: "blue" });
    await a.api.say({ roomId: "t", n: 1, to: "all" });
    await a.api.say({ roomId: "t", n: 2, to: "others" });
    await a.api.say({ roomId: "t", n: 3, to: "room", room: "blue" });
    await a.api.say({ roomId: "t", n: 4, to: "one", room: b.connectionId! });
    await a.api.say({ roomId: "t", n: 5, to: "all" });
    await until(() => got.get("a")!.length === 2 && got.get("b")!.length === 5 && got.get("c")!.length === 4, 3000, "deliveries");
    assert.deepEqual(got.get("a"), [1, 5]);
    assert.deepEqual(got.get("b"), [1, 2, 3, 4, 5]);
    assert.deepEqual(got.get("c"), [1, 2, 3, 5]);
  });

  it("a message that breaks the topic's schema throws on the server and is not sent", async () => {
    const a = await connect("schema");
    const got: unknown[] = [];
    await a.api.rooms.feed.subscribe({ roomId: "s" }, { onData: (m) => got.push(m) }).ready;
    assert.throws(() => service.publish("rooms.feed", { roomId: "s" }, { n: "x" } as never), TypeError);
    assert.throws(() => service.publish("rooms.nope" as never, {} as never, {} as never), /no such topic/);
    service.publish("rooms.feed", { roomId: "s" }, { n: 9, from: "s" });
    await until(() => got.length === 1, 2000, "the valid message");
    assert.deepEqual(got, [{ n: 9, from: "s" }]);
  });

  it("rooms: join, leave, membership queries and counts", async () => {
    const a = await connect("ra");
    const b = await connect("rb");
    await a.api.rooms.join({ room: "x" });
    await a.api.rooms.join({ room: "y" });
    await b.api.rooms.join({ room: "x" });
    assert.deepEqual(await a.api.rooms.mine(), ["x", "y"]);
    assert.equal(await a.api.rooms.members({ room: "x" }), 2);
    assert.deepEqual(service.roomMembers("x").sort(), [a.connectionId!, b.connectionId!].sort());
    assert.deepEqual([...service.roomsOf(a.connectionId!)].sort(), ["x", "y"]);
    await a.api.rooms.leave({ room: "x" });
    assert.equal(await b.api.rooms.members({ room: "x" }), 1);
    b.close();
    await until(() => service.roomMembers("x").length === 0, 2000, "room x emptied on disconnect");
  });

  it("namespace middleware guards admin.*, and global middleware sees calls and subscribes", async () => {
    const user = await connect("user");
    const admin = await connect("root", { admin: "1" });
    await assert.rejects(user.api.admin.stats(), (e: RpcError) => e.code === "FORBIDDEN" && e.message === "Admins only");
    assert.ok((await admin.api.admin.stats()) >= 2);
    await user.api.rooms.feed.subscribe({ roomId: "mw" }).ready;
    assert.ok(log.includes("call:admin.stats"));
    assert.ok(log.includes("subscribe:rooms.feed"));
  });

  it("one service answers on more than one socket path", async () => {
    const edge = await connect("edge", {}, "/edge");
    const ws = await connect("ws");
    const got: number[] = [];
    await ws.api.rooms.feed.subscribe({ roomId: "paths" }, { onData: (m) => got.push(m.n) }).ready;
    await edge.api.say({ roomId: "paths", n: 7, to: "all" });
    await until(() => got.length === 1, 2000, "cross-path delivery");
  });

  it("client publish: validated and authorized, delivered to the others but not the sender", async () => {
    const a = await connect("pa");
    const b = await connect("pb");
    const ga: string[] = [];
    const gb: string[] = [];
    await a.api.rooms.chatter.subscribe({ roomId: "c" }, { onData: (m) => ga.push(m.text) }).ready;
    await b.api.rooms.chatter.subscribe({ roomId: "c" }, { onData: (m) => gb.push(m.text) }).ready;
    await a.api.rooms.chatter.publish({ roomId: "c" }, { text: "hello" });
    await assert.rejects(a.api.rooms.chatter.publish({ roomId: "c" }, { text: "buy spam" }), (e: RpcError) => e.code === "FORBIDDEN");
    await assert.rejects(a.api.rooms.chatter.publish({ roomId: "c" }, { text: 3 } as never), (e: RpcError) => e.code === "INVALID_INPUT");
    await assert.rejects(a.api.rooms.feed.publish({ roomId: "c" }, { n: 1, from: "x" }), (e: RpcError) => e.code === "FORBIDDEN");
    await b.api.rooms.chatter.publish({ roomId: "c" }, { text: "hi back" });
    await until(() => ga.length === 1 && gb.length === 1, 2000, "client publishes");
    assert.deepEqual(ga, ["hi back"]);
    assert.deepEqual(gb, ["hello"]);
  });

  it("presence: two tabs of one user are one member with two metas; the member leaves with the last tab", async () => {
    const watcher = await connect("watcher");
    const sub = watcher.api.rooms.lobby.subscribe(undefined, {});
    await sub.ready;
    const tab1 = await connect("ada", { tab: "1" });
    const tab2 = await connect("ada", { tab: "2" });
    await tab1.api.rooms.lobby.subscribe().ready;
    await tab2.api.rooms.lobby.subscribe().ready;
    await until(() => sub.presence.members.ada?.length === 2, 3000, "two tabs of ada");
    assert.equal(sub.presence.count, 2);
    assert.deepEqual(sub.presence.members.ada!.map((m) => m.tab).sort(), [1, 2]);
    tab1.close();
    await until(() => sub.presence.members.ada?.length === 1, 3000, "one tab left");
    assert.equal(sub.presence.members.ada![0]!.tab, 2);
    tab2.close();
    await until(() => sub.presence.members.ada === undefined, 3000, "ada gone");
    assert.equal(sub.presence.count, 1);
  });

  it("presence diffs are batched: 30 joins at once reach a watcher in a few frames, not 30", async () => {
    const raw = await openRaw(`${server.url}?user=rawwatch`);
    try {
      raw.send({ type: "subscribe", id: "p", topic: "rooms.lobby" });
      await raw.next((f) => f.type === "presence" && f.state !== undefined);
      const before = raw.frames.length;
      const crowd = await Promise.all(Array.from({ length: 30 }, (_, i) => connect(`crowd${i}`)));
      await Promise.all(crowd.map((c) => c.api.rooms.lobby.subscribe().ready));
      await until(() => raw.frames.slice(before).filter((f) => f.type === "presence").reduce((n, f) => n + Object.keys(f.joins ?? {}).filter((k) => k.startsWith("crowd")).length, 0) === 30, 3000, "30 joins");
      const frames = raw.frames.slice(before).filter((f) => f.type === "presence");
      assert.ok(frames.length <= 6, `expected a few batched frames, got ${frames.length}`);
      for (const c of crowd) c.close();
    } finally {
      await raw.close();
    }
  });

  it("counts-only presence sends how many, never who", async () => {
    const raw = await openRaw(`${server.url}?user=counter`);
    try {
      raw.send({ type: "subscribe", id: "c", topic: "rooms.stadium" });
      // The state is the count as of the last diff (nobody yet); the subscriber's own join comes in the next one.
      const first = await raw.next((f) => f.type === "presence");
      assert.equal(first.count, 0);
      assert.equal(first.state, undefined);
      assert.equal((await raw.next((f) => f.type === "presence")).count, 1);
      const fan = await connect("fan");
      await fan.api.rooms.stadium.subscribe().ready;
      const next = await raw.next((f) => f.type === "presence");
      assert.deepEqual(Object.keys(next).sort(), ["count", "key", "topic", "type"]);
      assert.equal(next.count, 2);
    } finally {
      await raw.close();
    }
  });

  it("a connection over its subscription limit gets TOO_MANY_REQUESTS", async () => {
    const a = await connect("greedy");
    const subs = Array.from({ length: 8 }, (_, i) => a.api.rooms.feed.subscribe({ roomId: `g${i}` }));
    await Promise.all(subs.map((s) => s.ready));
    await assert.rejects(a.api.rooms.feed.subscribe({ roomId: "g9" }).ready, (e: RpcError) => e.code === "TOO_MANY_REQUESTS");
  });

  it("100 subscribers each get every message once, in order", async () => {
    const many = await Promise.all(Array.from({ length: 100 }, (_, i) => connect(`m${i}`)));
    const got = many.map(() => [] as number[]);
    await Promise.all(many.map((c, i) => c.api.rooms.feed.subscribe({ roomId: "many" }, { onData: (m) => got[i]!.push(m.n) }).ready));
    for (let n = 1; n <= 20; n++) service.publish("rooms.feed", { roomId: "many" }, { n, from: "s" });
    await until(() => got.every((g) => g.length === 20), 5000, "fan-out to 100");
    const expected = Array.from({ length: 20 }, (_, i) => i + 1);
    for (const g of got) assert.deepEqual(g, expected);
    for (const c of many) c.close();
  });

  it("when every client has gone, every map is empty again", async () => {
    for (const c of clients.splice(0)) c.close();
    await until(() => {
      const s = service.stats();
      return s.connections === 0 && s.channels === 0 && s.rooms === 0 && s.presence === 0 && s.inflight === 0;
    }, 3000, "all maps empty");
  });
});
