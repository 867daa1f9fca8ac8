import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import * as v from "valibot";
import { createClient, RpcError } from "../client/mod.ts";
import { httpFallback } from "../client/http.ts";
import { createService, defineContract, procedure, type RunningServer, topic } from "../server/mod.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";
import { startHttpProxy } from "./fixtures/http-proxy.ts";
import { HttpSession } from "../server/http-session.ts";

const contract = defineContract({
  echo: procedure({ input: v.string(), output: v.string() }),
  wait: procedure({ input: v.number(), output: v.string() }),
  feed: topic({ message: v.string() }),
});

const makeService = (options: Parameters<typeof createService<typeof contract, { user: string }>>[2] = {}) =>
  createService(contract, {
    echo: (s) => s,
    wait: (ms) => new Promise((r) => setTimeout(() => r("done"), ms)),
  }, options);

/** A raw session: its token, every line streamed so far, and the close record once it came. */
interface RawSession {
  token: string;
  lines: Record<string, unknown>[];
  closed: { code: number; reason: string } | undefined;
  post(body: string, seq: number, headers?: Record<string, string>): Promise<Response>;
  stop(): void;
}

async function openSession(base: string, headers: Record<string, string> = {}): Promise<RawSession> {
  const abort = new AbortController();
  const response = await fetch(`${base}?protocol=tether.v1`, { headers, signal: abort.signal });
  assert.equal(response.status, 200, `stream opened (got ${response.status})`);
  const session: RawSession = {
    token: response.headers.get("tether-session") ?? "",
    lines: [],
    closed: undefined,
    post: (body, seq, extra = {}) =>
      fetch(base, { method: "POST", body, headers: { "content-type": "application/json", "tether-session": session.token, "tether-seq": String(seq), ...extra } }),
    stop: () => abort.abort(),
  };
  void (async () => {
    let rest = "";
    try {
      for await (const chunk of response.body!.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop()!;
        for (const line of parts) {
          const frame = JSON.parse(line) as Record<string, unknown>;
          if (frame.type === "close") session.closed = frame as unknown as RawSession["closed"];
          else session.lines.push(frame);
        }
      }
    } catch {
      // aborted by stop()
    }
  })();
  await until(() => session.lines.length > 0, 5000, "the hello");
  return session;
}


/** A service beating every 100 ms (timeout 400 ms) behind an HTTP-only proxy, and a fallback client of it; `stop` ends all three. */
async function quickOverHttp() {
  const quickServer = await serve(createService(contract, { echo: (s) => s, wait: () => "" }, { heartbeat: { interval: 100, timeout: 400 } }));
  const proxy = await startHttpProxy([quickServer.port]);
  const fallback = httpFallback();
  const client = createClient<typeof contract>(proxy.via(quickServer.url), { WebSocket: fallback.WebSocket, reconnect: { min: 20, max: 100 } });
  const stop = async () => {
    client.close();
    await proxy.close();
    await quickServer.stop();
  };
  return { quickServer, proxy, fallback, client, stop };
}
describe(`HTTP fallback endpoints on ${RUNTIME}: bad input, limits, liveness, shutdown`, () => {
  let service: ReturnType<typeof makeService>;
  let server: RunningServer;
  let base: string;
  before(async () => {
    service = makeService({
      limits: { maxFrameBytes: 4096, maxInFlight: 2, ratePerSecond: 50, rateBurst: 20 },
      authenticate: (req) => {
        const user = new URL(req.url).searchParams.get("user") ?? req.headers.get("x-user");
        if (user === "mallory") throw new RpcError("FORBIDDEN", "Not allowed here");
        return { user: user ?? "anonymous" };
      },
    });
    server = await serve(service);
    base = `http://127.0.0.1:${server.port}/ws/http`;
  });
  after(() => server.stop());

  it("opens a session with a secret token that is not the public connection id; a wrong token gets 404", async () => {
    const s = await openSession(base);
    try {
      const hello = s.lines[0]!;
      assert.equal(hello.type, "hello");
      assert.match(s.token, /^[\w-]+\.[\w-]{43}$/);
      assert.ok(!s.token.includes(String(hello.connectionId)));
      const forged = s.token.slice(0, -4) + (s.token.endsWith("AAAA") ? "BBBB" : "AAAA");
      const res = await fetch(base, { method: "POST", body: "{}", headers: { "content-type": "application/json", "tether-session": forged, "tether-seq": "0" } });
      assert.equal(res.status, 404);
      assert.deepEqual(await res.json(), { error: "Unknown session: open a new one" });
      assert.equal((await s.post('{"type":"call","id":1,"method":"echo","input":{"json":"ok"}}', 0)).status, 204);
      await until(() => s.lines.some((f) => f.type === "result" && f.id === 1), 5000, "the result on the stream");
    } finally {
      s.stop();
    }
  });

  it("refuses cross-site and form posts, bad headers, huge bodies and unknown methods; the session keeps serving", async () => {
    const s = await openSession(base);
    try {
      const frame = '{"type":"call","id":1,"method":"echo","input":{"json":"x"}}';
      assert.equal((await s.post(frame, 0, { "content-type": "text/plain" })).status, 415);
      assert.equal((await s.post("a=1", 0, { "content-type": "application/x-www-form-urlencoded" })).status, 415);
      assert.equal((await s.post(frame, 0, { origin: "https://evil.example" })).status, 403);
      assert.equal((await s.post(frame, 0, { "tether-session": "nope" })).status, 400);
      assert.equal((await s.post(frame, 0, { "tether-seq": "-1" })).status, 400);
      assert.equal((await s.post("x".repeat(4096 * 4 + 1), 0)).status, 413);
      assert.equal((await fetch(base, { method: "PUT" })).status, 405);
      const flood = await Promise.all(Array.from({ length: 200 }, (_, i) => s.post(frame, 0, { "tether-session": `${s.token.split(".")[0]}.${String(i).padStart(43, "A")}` })));
      assert.ok(flood.every((r) => r.status === 404), "a flood of unknown sessions gets 404s");
      const cross = await fetch(`${base}?protocol=tether.v1`, { headers: { origin: "https://evil.example" } });
      assert.equal(cross.status, 403);
      assert.equal((await fetch(base)).status, 400, "a stream without ?protocol=tether.v1");
      assert.equal((await s.post(frame, 0)).status, 204);
      await until(() => s.lines.some((f) => f.type === "result" && f.id === 1), 5000, "the result after the refusals");
    } finally {
      s.stop();
    }
  });

  it("authenticates before the session exists: 401/403 and no connection; an abandoned stream is released", async () => {
    await until(() => service.connections.size === 0, 5000, "the earlier sessions' release after their clients aborted");
    const before = service.connections.size;
    const res = await fetch(`${base}?protocol=tether.v1&user=mallory`);
    assert.equal(res.status, 403);
    assert.deepEqual(await res.json(), { error: "Not allowed here" });
    assert.equal(service.connections.size, before);
  });

  it("runs POST bodies in order and once: a retried or early body is neither lost nor repeated", async () => {
    const s = await openSession(base);
    try {
      const call = (id: number) => `{"type":"call","id":${id},"method":"echo","input":{"json":"n${id}"}}`;
      assert.equal((await s.post(call(2), 1)).status, 204, "body 1 waits for body 0");
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(s.lines.filter((f) => f.type === "result").length, 0);
      assert.equal((await s.post(call(1), 0)).status, 204);
      assert.equal((await s.post(call(1), 0)).status, 204, "a retry of body 0");
      await until(() => s.lines.filter((f) => f.type === "result").length === 2, 5000, "two results");
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(s.lines.filter((f) => f.type === "result").map((f) => f.id), [1, 2]);
    } finally {
      s.stop();
    }
  });

  it("applies the frame limits and the rate limit per session, and closes a flooder with 1008 without touching others", async () => {
    const flooder = await openSession(base);
    const bystander = await openSession(base);
    try {
      await flooder.post(JSON.stringify({ type: "call", id: 1, method: "echo", input: { json: "x".repeat(5000) } }), 0);
      await until(() => flooder.lines.some((f) => f.code === "PAYLOAD_TOO_LARGE"), 5000, "PAYLOAD_TOO_LARGE");
      const waits = [2, 3, 4].map((id) => `{"type":"call","id":${id},"method":"wait","input":{"json":300}}`).join("\n");
      await flooder.post(waits, 1);
      await until(() => flooder.lines.some((f) => f.code === "TOO_MANY_REQUESTS" && f.id === 4), 5000, "the in-flight limit");
      const pings = Array.from({ length: 100 }, () => '{"type":"ping"}').join("\n");
      await flooder.post(pings, 2);
      await until(() => flooder.closed !== undefined, 5000, "the flooder's close record");
      assert.equal(flooder.closed?.code, 1008);
      assert.equal((await bystander.post('{"type":"call","id":1,"method":"echo","input":{"json":"still"}}', 0)).status, 204);
      await until(() => bystander.lines.some((f) => f.type === "result"), 5000, "the bystander's answer");
    } finally {
      flooder.stop();
      bystander.stop();
    }
  });

  it("a stream whose reader stops is a slow consumer: closed with 4008 and released", async () => {
    const slow = createService(contract, { echo: (s) => s, wait: () => "" }, { maxBufferedBytes: 64 * 1024 });
    const slowServer = await serve(slow);
    const socket = net.connect(slowServer.port, "127.0.0.1");
    try {
      socket.write(`GET /ws/http?protocol=tether.v1 HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`);
      let head = "";
      await new Promise<void>((resolve) => socket.on("data", (d) => (head += d.toString(), head.includes("tether-session") && resolve())));
      socket.pause();
      const token = /tether-session: (\S+)/i.exec(head)![1]!;
      const subscribe = '{"type":"subscribe","id":"s","topic":"feed"}';
      const posted = await fetch(`http://127.0.0.1:${slowServer.port}/ws/http`, {
        method: "POST",
        body: subscribe,
        headers: { "content-type": "application/json", "tether-session": token, "tether-seq": "0" },
      });
      assert.equal(posted.status, 204);
      await until(() => slow.stats().channels === 1, 5000, "the subscription");
      const big = "y".repeat(32 * 1024);
      for (let i = 0; i < 2000 && slow.connections.size > 0; i++) {
        slow.publish("feed", undefined, big);
        if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      await until(() => slow.connections.size === 0, 10_000, "the slow session's release");
      assert.ok(slow.metrics.render({ connections: 0, subscriptions: 0, inflight: 0, queued: 0 }).includes('code="4008"'));
    } finally {
      socket.destroy();
      await slowServer.stop();
    }
  });

  it("a session that never posts is closed by the heartbeat (4000); a client whose stream stalls reconnects", async () => {
    const { quickServer, proxy, fallback, client, stop } = await quickOverHttp();
    try {
      const silent = await openSession(`http://127.0.0.1:${quickServer.port}/ws/http`);
      await until(() => silent.closed !== undefined, 5000, "the heartbeat close");
      assert.equal(silent.closed?.code, 4000);
      silent.stop();

      await client.ready();
      assert.equal(fallback.transport, "http");
      const first = client.connectionId;
      const states: string[] = [];
      client.on("state", (s) => states.push(s));
      proxy.stalled = true;
      await until(() => states.includes("reconnecting"), 5000, "the stalled stream to be noticed");
      proxy.stalled = false;
      await until(() => client.state === "open" && client.connectionId !== first, 5000, "a new session");
      assert.equal(await client.api.echo("back"), "back");
    } finally {
      await stop();
    }
  });

  it("an idle client over the HTTP fallback stays open past several timeouts: its beats go by POST, the server's come on the stream", async () => {
    const { fallback, client, stop } = await quickOverHttp();
    try {
      await client.ready();
      assert.equal(fallback.transport, "http");
      const first = client.connectionId;
      const states: string[] = [];
      client.on("state", (s) => states.push(s));
      await new Promise((r) => setTimeout(r, 400 * 4));
      assert.deepEqual(states, []);
      assert.equal(client.connectionId, first);
      assert.notEqual(client.latency, undefined, "the ping sent with the hello was answered");
      assert.equal(await client.api.echo("idle"), "idle");
    } finally {
      await stop();
    }
  });

  it("a client that aborts its stream while the server writes or closes it is released; nothing is enqueued into the dead stream (regression)", async () => {
    // The session itself: once the runtime cancelled the stream, sends and close are no-ops, reported once as 1006.
    const ended: number[] = [];
    const lone = new HttpSession("t", { drain: () => {}, frame: () => {}, ended: (code) => void ended.push(code) });
    await lone.body.getReader().cancel();
    assert.doesNotThrow(() => (lone.send("{}"), lone.close(4000, "late"), lone.send("{}")));
    assert.deepEqual(ended, [1006]);
    // A stream the runtime errored (here: its pull failed) without calling cancel: the first write ends the session.
    const broken: number[] = [];
    const errored = new HttpSession("u", { drain: () => { throw new Error("pull failed"); }, frame: () => {}, ended: (code) => void broken.push(code) });
    await errored.body.getReader().read().catch(() => {});
    assert.doesNotThrow(() => (errored.send("{}"), errored.close(4000, "heartbeat"), errored.send("{}")));
    await until(() => broken.length > 0, 2000, "the errored session released");
    assert.deepEqual(broken, [1006]);

    // Over HTTP: streams aborted while frames pour into them and the heartbeat closes them.
    const busy = createService(contract, { echo: (s) => s, wait: () => "" }, { heartbeat: { interval: 20, timeout: 60 } });
    const busyServer = await serve(busy);
    const busyBase = `http://127.0.0.1:${busyServer.port}/ws/http`;
    const publishing = setInterval(() => busy.publish("feed", undefined, "x".repeat(200)), 1);
    try {
      for (let round = 0; round < 8; round++) {
        const sessions = await Promise.all(Array.from({ length: 4 }, () => openSession(busyBase)));
        await Promise.all(sessions.map((s, i) => s.post(JSON.stringify({ type: "subscribe", id: `f${i}`, topic: "feed" }), 0).then((r) => r.body?.cancel())));
        // Aborted at staggered moments around the heartbeat's close (timeout 60 ms).
        await Promise.all(sessions.map((s, i) => new Promise((r) => setTimeout(() => r(s.stop()), round * 10 + i * 5))));
      }
      await until(() => busy.stats().connections === 0, 5000, "every aborted session released");
      const after = await openSession(busyBase);
      assert.equal(after.lines[0]!.type, "hello");
      after.stop();
    } finally {
      clearInterval(publishing);
      await busyServer.stop();
    }
  });

  it("frames sent in one task leave the stream as one chunk, not one write and flush per frame", async () => {
    const session = new HttpSession("c", { drain: () => {}, frame: () => {}, ended: () => {} });
    const reader = session.body.getReader();
    const text = async () => new TextDecoder().decode((await reader.read()).value);
    for (let i = 0; i < 3; i++) session.send(`{"n":${i}}`);
    assert.ok(session.bufferedAmount() > 0, "what waits for the end of the task counts as buffered");
    assert.equal(await text(), '{"n":0}\n{"n":1}\n{"n":2}\n');
    session.send('{"n":3}');
    session.close(1000, "done");
    assert.equal(await text(), '{"n":3}\n{"type":"close","code":1000,"reason":"done"}\n');
    assert.equal((await reader.read()).done, true);
  });

  it("shutdown refuses new streams with 503 and Retry-After, then ends every stream with 1001 and a retry hint", async () => {
    const leaving = createService(contract, { echo: (s) => s, wait: (ms) => new Promise((r) => setTimeout(() => r("done"), ms)) }, { shutdownGrace: 2000 });
    const leavingServer = await serve(leaving);
    const url = `http://127.0.0.1:${leavingServer.port}/ws/http`;
    const s = await openSession(url);
    assert.equal((await s.post('{"type":"call","id":1,"method":"wait","input":{"json":200}}', 0)).status, 204);
    await until(() => leaving.stats().inflight === 1, 5000, "the call in flight");
    const stopping = leavingServer.stop(1234);
    const late = await fetch(`${url}?protocol=tether.v1`);
    assert.equal(late.status, 503);
    assert.equal(late.headers.get("retry-after"), "1");
    await until(() => s.closed !== undefined, 5000, "the close record");
    assert.ok(s.lines.some((f) => f.type === "result" && f.id === 1), "the call in flight was answered first");
    assert.deepEqual(s.closed, { type: "close", code: 1001, reason: "retry=1234" });
    await stopping;
    s.stop();
  });
});
