/**
 * The handshake and the operator's endpoints: authentication before the upgrade (header, cookie,
 * query, subprotocol) with `ctx.auth` in handlers and hooks, the Origin allow-list, the per-IP
 * limit, `/metrics`, `/healthz`, `/readyz`, and quiet structured logs.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createService, defineContract, procedure, RpcError, type RunningServer, type Service, topic } from "../server/mod.ts";
import { createLogger } from "../server/log.ts";
import { openRaw } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";
import { connectTcp } from "./fixtures/tcp-client.ts";

const contract = defineContract({
  whoami: procedure({ output: v.object({ user: v.string(), via: v.string() }) }),
  fail: procedure({}),
  inbox: topic({ params: v.object({ user: v.string() }), message: v.string() }),
});

interface Auth {
  user: string;
  via: string;
}

/** Reads a token from the Authorization header, a cookie, the query, or a second subprotocol. */
function authenticate(request: Request): Auth {
  const url = new URL(request.url);
  const header = request.headers.get("authorization")?.replace(/^Bearer /, "");
  const cookie = request.headers.get("cookie")?.match(/(?:^|;\s*)token=([^;]+)/)?.[1];
  const query = url.searchParams.get("token") ?? undefined;
  const protocol = request.headers.get("sec-websocket-protocol")?.split(",").map((p) => p.trim()).find((p) => p.startsWith("token."))?.slice(6);
  const [via, token] = header ? ["header", header] : cookie ? ["cookie", cookie] : query ? ["query", query] : protocol ? ["subprotocol", protocol] : ["", ""];
  if (token === "") throw new RpcError("UNAUTHORIZED", "No token");
  if (token === "banned") throw new RpcError("FORBIDDEN", "Banned");
  if (!/^[a-z]+$/.test(token)) throw new RpcError("UNAUTHORIZED", "Bad token");
  return { user: token, via };
}

describe(`handshake, origin, metrics and logs on ${RUNTIME}`, () => {
  let server: RunningServer;
  let service: Service<typeof contract, Auth>;
  let authCalls = 0;
  const lines: string[] = [];

  before(async () => {
    service = createService<typeof contract, Auth>(contract, {
      whoami: (_, ctx) => ({ user: ctx.auth.user, via: ctx.auth.via }),
      fail: () => {
        throw new Error("boom");
      },
      inbox: { authorize: ({ user }, ctx) => user === ctx.auth.user },
    }, {
      authenticate: (request) => (authCalls++, authenticate(request)),
      origins: ["https://app.example"],
      maxConnectionsPerIp: 6,
      logger: createLogger("warn", (line) => lines.push(line)),
    });
    server = await serve(service);
  });
  after(() => server.stop());

  const base = () => server.url.replace("ws://", "http://").replace(/\/ws$/, "");
  const whoami = async (url: string, protocols?: string[]) => {
    const ws = await openRaw(url, protocols);
    ws.send({ type: "call", id: 1, method: "whoami" });
    const answer = (await ws.next((f) => f.id === 1)).output.json;
    await ws.close();
    return answer;
  };

  it("a token in the query, a subprotocol, a header or a cookie authenticates; ctx.auth carries the typed result", async () => {
    assert.deepEqual(await whoami(`${server.url}?token=ada`), { user: "ada", via: "query" });
    assert.deepEqual(await whoami(server.url, ["tether.v1", "token.bob"]), { user: "bob", via: "subprotocol" });
    const header = await connectTcp(server.url, { Authorization: "Bearer cy" });
    header.send({ type: "call", id: 1, method: "whoami" });
    assert.match((await header.next((f) => f.kind === "text" && f.text.includes('"result"')) as { text: string }).text, /"user":"cy","via":"header"/);
    header.destroy();
    const cookie = await connectTcp(server.url, { Cookie: "theme=dark; token=dee" });
    cookie.send({ type: "call", id: 1, method: "whoami" });
    assert.match((await cookie.next((f) => f.kind === "text" && f.text.includes('"result"')) as { text: string }).text, /"user":"dee","via":"cookie"/);
    cookie.destroy();
  });

  it("no token gets an UNAUTHORIZED frame and close 4401, a refused one FORBIDDEN and 4403, and no connection is opened", async () => {
    const opened = service.metrics.connectionsOpened;
    for (const [url, code, status] of [[server.url, "UNAUTHORIZED", 4401], [`${server.url}?token=banned`, "FORBIDDEN", 4403]] as const) {
      const tcp = await connectTcp(url);
      const error = await tcp.next((f) => f.kind === "text");
      assert.deepEqual(error.kind === "text" && JSON.parse(error.text), { type: "error", id: null, code, message: code === "FORBIDDEN" ? "Banned" : "No token" });
      const close = await tcp.next((f) => f.kind === "close");
      assert.equal(close.kind === "close" && close.code, status);
      tcp.destroy();
    }
    assert.equal(service.metrics.connectionsOpened, opened, "no connection was opened");
    assert.equal(service.metrics.refused.get(401), 1);
    assert.equal(service.metrics.refused.get(403), 1);
  });

  it("topic hooks see ctx.auth: subscribing to another user's inbox is FORBIDDEN, one's own works", async () => {
    const ws = await openRaw(`${server.url}?token=eve`);
    try {
      ws.send({ type: "subscribe", id: 1, topic: "inbox", params: { json: { user: "ada" } } });
      assert.equal((await ws.next((f) => f.id === 1)).code, "FORBIDDEN");
      ws.send({ type: "subscribe", id: 2, topic: "inbox", params: { json: { user: "eve" } } });
      assert.equal((await ws.next((f) => f.id === 2)).type, "subscribed");
    } finally {
      await ws.close();
    }
  });

  it("Origin: allow-listed origins pass; others, and the opaque null origin, get 403 before authentication runs", async () => {
    const host = new URL(server.url).host;
    const tcp = await connectTcp(`${server.url}?token=ok`, { Origin: "https://app.example" });
    tcp.destroy();
    const before = authCalls;
    // A configured list replaces the loopback default: the address connected to is not trusted by itself.
    for (const origin of ["https://evil.example", "null", `http://${host}`, `http://${host}.evil.example`, "https://app.example:444"]) {
      await assert.rejects(connectTcp(`${server.url}?token=ok`, { Origin: origin }), /HTTP\/1.1 403/, origin);
    }
    assert.equal(authCalls, before, "authenticate never ran for a refused origin");
  });

  it("past maxConnectionsPerIp a new socket is closed with 1013 and a retry hint; the others keep working", async () => {
    const open = [];
    for (let i = 0; i < 6; i++) open.push(await openRaw(`${server.url}?token=max`));
    const extra = new WebSocket(`${server.url}?token=max`, "tether.v1");
    const closed = await new Promise<{ code: number; reason: string }>((resolve) => extra.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })));
    assert.equal(closed.code, 1013);
    assert.match(closed.reason, /^retry=\d+/);
    open[0]!.send({ type: "call", id: 1, method: "whoami" });
    assert.equal((await open[0]!.next((f) => f.id === 1)).type, "result");
    for (const ws of open) await ws.close();
    await until(() => service.connections.size === 0, 5000, "every socket to close");
  });

  it("GET /metrics: Prometheus text with connections, calls by method and outcome, latency histogram, closes by code, refused upgrades", async () => {
    const ws = await openRaw(`${server.url}?token=met`);
    ws.send({ type: "call", id: 1, method: "whoami" });
    ws.send({ type: "call", id: 2, method: "fail" });
    ws.send({ type: "call", id: 3, method: "made.up" });
    ws.send("not json");
    await ws.next((f) => f.id === 3);
    await ws.next((f) => f.code === "PARSE_ERROR");
    const res = await fetch(`${base()}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0.0.4/);
    const text = await res.text();
    assert.match(text, /^tether_connections 1$/m);
    assert.match(text, /^tether_calls_total\{method="whoami",outcome="ok"\} \d+$/m);
    assert.match(text, /^tether_calls_total\{method="fail",outcome="INTERNAL"\} 1$/m);
    assert.match(text, /^tether_calls_total\{method="\(unknown\)",outcome="NOT_FOUND"\} 1$/m);
    assert.match(text, /^tether_call_duration_seconds_bucket\{method="whoami",le="\+Inf"\} \d+$/m);
    assert.match(text, /^tether_call_duration_seconds_count\{method="whoami"\} \d+$/m);
    assert.match(text, /^tether_frames_rejected_total\{code="PARSE_ERROR"\} 1$/m);
    assert.match(text, /^tether_upgrades_refused_total\{status="401"\} 1$/m);
    assert.match(text, /^tether_closes_total\{code="1013"\} 1$/m);
    assert.match(text, /^# TYPE tether_call_duration_seconds histogram$/m);
    for (const name of ["tether_subscriptions", "tether_messages_published_total", "tether_messages_delivered_total", "tether_messages_dropped_total"]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, "m"));
    }
    await ws.close();
  });

  it("GET /healthz and /readyz answer 200 JSON while serving", async () => {
    const health = await fetch(`${base()}/healthz`);
    assert.equal(health.status, 200);
    assert.equal((await health.json()).status, "ok");
    const ready = await fetch(`${base()}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal((await ready.json()).status, "ready");
  });

  it("logs are JSON lines with a level, quiet by default: a failing handler is logged at warn, ordinary traffic is not", async () => {
    await until(() => lines.length > 0, 5000, "a log line");
    const entries = lines.map((l) => JSON.parse(l));
    assert.ok(entries.every((e) => typeof e.time === "string" && ["warn", "error"].includes(e.level) && typeof e.msg === "string"));
    assert.deepEqual(entries.map((e) => [e.level, e.msg, e.method]), [["warn", "procedure threw", "fail"]]);
  });
});
