/**
 * Server-to-client calls over real sockets: `ctx.client.x()` in a handler and
 * `service.client(id).x()` from anywhere, typed answers and declared errors, NOT_FOUND for what the
 * client does not implement, timeout, cancel and disconnect (never a hang), the answers' validation,
 * and the same frames over the HTTP fallback.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { type Client, createClient, RpcError, validated } from "../client/mod.ts";
import { httpFallback } from "../client/http.ts";
import { createLogger } from "../server/log.ts";
import { createService, defineContract, procedure, type RunningServer, type Service, topic } from "../server/mod.ts";
import { type HttpProxy, startHttpProxy } from "./fixtures/http-proxy.ts";
import { openRaw } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";

const contract = defineContract({
  /** Asks the calling client to confirm, through `ctx.client`, and returns its answer. */
  ask: procedure({ input: v.object({ question: v.string() }), output: v.object({ ok: v.boolean(), at: v.date() }) }),
  client: {
    confirm: procedure({
      input: v.object({ question: v.pipe(v.string(), v.minLength(1)) }),
      output: v.object({ ok: v.boolean(), at: v.date() }),
      errors: { DECLINED: v.object({ reason: v.string() }) },
    }),
    ui: {
      /** Never answers by itself: resolves when its signal aborts, and records that. */
      hang: procedure({ input: v.number(), output: v.string() }),
    },
    /** A schema that transforms: the client gets a Date only when it validates (`validated`). */
    when: procedure({ input: v.pipe(v.string(), v.isoTimestamp(), v.transform((s) => new Date(s))), output: v.number() }),
  },
});

type Contract = typeof contract;
const AT = new Date("2026-11-29T01:00:00.000Z");

/** The RpcError a call rejects with (fails the test when it resolves). */
const failure = (p: Promise<unknown>): Promise<RpcError> => p.then(() => assert.fail("expected a rejection"), (e) => e as RpcError);

describe(`server-to-client calls on ${RUNTIME}`, () => {
  let service: Service<Contract>;
  let server: RunningServer;
  let proxy: HttpProxy;
  const logged: string[] = [];
  const clients: Client<Contract>[] = [];
  /** Abort reasons the client's `ui.hang` saw, by its input. */
  const aborted = new Map<number, unknown>();
  let started = 0;

  const connect = async (mode: "yes" | "declined" | "undeclared" | "throws" | "none", url = server.url, extra: object = {}) => {
    const implement = {
      confirm: ({ question }: { question: string }) => {
        if (mode === "declined") throw new RpcError("DECLINED", "Not now", { reason: `busy: ${question}` });
        if (mode === "undeclared") throw new RpcError("NOPE", "Nope", { secret: "s3cret" });
        if (mode === "throws") throw new Error("secret stack");
        return { ok: question.endsWith("?"), at: AT };
      },
      ui: {
        hang: (n: number, { signal }: { signal: AbortSignal }) =>
          new Promise<string>((resolve) => {
            started++;
            signal.addEventListener("abort", () => (aborted.set(n, signal.reason), resolve("late")));
          }),
      },
      // Without `validated` the input arrives as the server sent it: the schema's input, a string.
      when: (iso: string) => Date.parse(iso),
    };
    const client = createClient<Contract>(url, { reconnect: false, ...(mode === "none" ? {} : { implement }), ...extra });
    clients.push(client);
    await client.ready();
    return client;
  };

  before(async () => {
    service = createService(contract, {
      ask: (input, ctx) => ctx.client.confirm(input),
    }, { logger: createLogger("warn", (line) => logged.push(line)), limits: { maxInFlight: 4 } });
    server = await serve(service);
    proxy = await startHttpProxy([server.port]);
  });
  after(async () => {
    for (const c of clients) c.close();
    await proxy.close();
    await server.stop();
  });

  it("ctx.client.confirm in a handler gets the client's typed answer (a Date round-trips)", async () => {
    const client = await connect("yes");
    assert.deepEqual(await client.api.ask({ question: "Clear the room?" }), { ok: true, at: AT });
    assert.deepEqual(await client.api.ask({ question: "Clear the room" }), { ok: false, at: AT });
  });

  it("service.client(id).confirm from outside any handler, typed; a namespace path works too", async () => {
    const client = await connect("yes");
    const answer = await service.client(client.connectionId!).confirm({ question: "ok?" });
    assert.equal(answer.ok, true);
    assert.ok(answer.at instanceof Date);
    // A plain call that settles (the signal aborts on the client's side after the server cancels).
    const controller = new AbortController();
    const pending = service.client(client.connectionId!).ui.hang(1, { signal: controller.signal });
    await until(() => started > 0, 5000, "the client started ui.hang");
    controller.abort();
    await assert.rejects(pending, (e: RpcError) => e.code === "CANCELLED");
    await until(() => aborted.has(1), 5000, "the client's signal aborted on the server's cancel");
  });

  it("a declared error arrives typed with validated data; an undeclared code or a plain throw is INTERNAL", async () => {
    const declined = await connect("declined");
    const r = await failure(service.client(declined.connectionId!).confirm({ question: "q" }));
    assert.ok(r instanceof RpcError);
    assert.equal(r.code, "DECLINED");
    assert.deepEqual(r.data, { reason: "busy: q" });
    for (const mode of ["undeclared", "throws"] as const) {
      const c = await connect(mode);
      const e = await failure(service.client(c.connectionId!).confirm({ question: "q" }));
      assert.equal(e.code, "INTERNAL", mode);
      assert.ok(!JSON.stringify([e.message, e.data]).includes("secret"), `${mode}: nothing leaks`);
    }
    assert.ok(logged.some((line) => line.includes("undeclared error code") && line.includes("confirm")), "undeclared code logged");
  });

  it("a client that does not implement the procedure answers NOT_FOUND", async () => {
    const none = await connect("none");
    const e = await failure(service.client(none.connectionId!).confirm({ question: "q" }));
    assert.equal(e.code, "NOT_FOUND");
    assert.match(e.message, /does not implement "confirm"/);
    // Through a handler too: the server's promise rejects, the handler's caller sees it as INTERNAL (not declared by `ask`).
    assert.equal((await none.api.ask.safe({ question: "q" })).ok, false);
  });

  it("times out with TIMEOUT and the client's signal aborts (cancel frame)", async () => {
    const client = await connect("yes");
    const e = await failure(service.client(client.connectionId!).ui.hang(2, { timeout: 100 }));
    assert.equal(e.code, "TIMEOUT");
    await until(() => aborted.has(2), 5000, "the client's implementation saw the cancel");
  });

  it("a client that disconnects mid-call rejects the server's promise with DISCONNECTED, never a hang", async () => {
    const client = await connect("yes");
    const before = started;
    const pending = failure(service.client(client.connectionId!).ui.hang(3, { timeout: 60_000 }));
    await until(() => started > before, 5000, "the client started ui.hang");
    client.close();
    const e = await pending;
    assert.equal(e.code, "DISCONNECTED");
    assert.equal((await failure(service.client(client.connectionId!).confirm({ question: "q" }))).code, "DISCONNECTED");
    assert.equal((await failure(service.client("no-such-connection").confirm({ question: "q" }))).code, "DISCONNECTED");
  });

  it("input is validated before it is sent (TypeError), and pending calls per connection are bounded", async () => {
    const client = await connect("yes");
    await assert.rejects(service.client(client.connectionId!).confirm({ question: "" }), TypeError);
    const caller = service.client(client.connectionId!);
    const many = Array.from({ length: 5 }, (_, i) => caller.ui.hang(100 + i, { timeout: 30_000 }).catch((x: RpcError) => x.code));
    assert.equal(await many[4], "TOO_MANY_REQUESTS");
    client.close();
    assert.deepEqual(await Promise.all(many.slice(0, 4)), ["DISCONNECTED", "DISCONNECTED", "DISCONNECTED", "DISCONNECTED"]);
  });

  it("the wire: a call frame with the server's own id; an invalid output is BAD_REQUEST; late answers are dropped", async () => {
    const raw = await openRaw(server.url);
    const { hello } = raw;
    const first = failure(service.client(hello.connectionId).confirm({ question: "raw?" }));
    const call = await raw.next((f) => f.type === "call");
    assert.equal(call.method, "confirm");
    assert.ok(Number.isSafeInteger(call.id) && call.id >= 1);
    assert.deepEqual(call.input, { json: { question: "raw?" } });
    raw.send({ type: "result", id: call.id, output: { json: { ok: "yes" } } });
    const bad = await first;
    assert.ok(bad instanceof RpcError);
    assert.equal(bad.code, "BAD_REQUEST");
    assert.match(bad.message, /failed validation/);

    const second = service.client(hello.connectionId).confirm({ question: "again" });
    const call2 = await raw.next((f) => f.type === "call" && f.id !== call.id);
    raw.send({ type: "result", id: call.id, output: { json: { ok: false, at: "x" } } });
    raw.send({ type: "result", id: call2.id, output: { json: { ok: true, at: AT.toISOString() }, meta: { v: 1, values: { at: ["Date"] } } } });
    assert.deepEqual(await second, { ok: true, at: AT });
    raw.send({ type: "error", id: 0, code: "X", message: "m" });
    const refused = await raw.next((f) => f.type === "error" && f.code === "BAD_REQUEST");
    assert.equal(refused.id, 0, "an answer id outside the server's id space does not match protocol v1");
    raw.send({ type: "call", id: 9, method: "ask", input: { json: { question: "still there" } } });
    const asked = await raw.next((f) => f.type === "call" && f.method === "confirm" && f.id > call2.id);
    raw.send({ type: "error", id: asked.id, code: "DECLINED", message: "No", data: { json: { reason: "r" } } });
    const answered = await raw.next((f) => f.id === 9);
    assert.equal(answered.type, "error", "the handler's call failed with the client's error (INTERNAL: ask declares none)");
    await raw.close();
  });

  it("works over the HTTP fallback with the same frames", async () => {
    const fallback = httpFallback({ probeInterval: 200 });
    const client = await connect("yes", proxy.via(server.url), { WebSocket: fallback.WebSocket });
    assert.equal(fallback.transport, "http");
    assert.deepEqual(await client.api.ask({ question: "over http?" }), { ok: true, at: AT });
    const e = await failure(service.client(client.connectionId!).ui.hang(4, { timeout: 100 }));
    assert.equal(e.code, "TIMEOUT");
    await until(() => aborted.has(4), 5000, "the cancel reached the client over HTTP");
  });

  it("validated(): the client checks the input with the schema and gets its output; a refused input is INVALID_INPUT with issues", async () => {
    const strict = procedure({ input: v.pipe(v.string(), v.isoTimestamp(), v.maxLength(10)), output: v.number() });
    const client = createClient<Contract>(server.url, {
      reconnect: false,
      implement: {
        confirm: validated(contract.client.confirm, ({ question }) => ({ ok: question.length > 0, at: AT })),
        ui: { hang: () => "never" },
        when: validated(contract.client.when, (date) => date.getTime()),
      },
    });
    clients.push(client);
    await client.ready();
    const caller = service.client(client.connectionId!);
    assert.equal(await caller.when("2026-11-29T01:00:00.000Z"), AT.getTime());
    assert.deepEqual(await caller.confirm({ question: "q" }), { ok: true, at: AT });
    await assert.rejects(caller.when("not a date"), TypeError, "the server checks before sending");

    const picky = createClient<Contract>(server.url, {
      reconnect: false,
      // A stricter schema than the server's (another version of the contract, say): the client refuses what the server let through.
      implement: { confirm: () => ({ ok: true, at: AT }), ui: { hang: () => "never" }, when: validated(strict, () => 0) as (iso: string) => Promise<number> },
    });
    clients.push(picky);
    await picky.ready();
    const refused = await failure(service.client(picky.connectionId!).when("2026-11-29T01:00:00.000Z"));
    assert.equal(refused.code, "INVALID_INPUT");
    assert.deepEqual((refused.data as { issues: { path: unknown[] }[] }).issues.map((i) => i.path), [[]]);
  });

  it("defineContract keeps the client section apart: only procedures, no server handlers for it", () => {
    assert.throws(() => defineContract({ client: { news: topic({ message: v.string() }) } }), TypeError);
    assert.throws(() => defineContract({ client: procedure() }), TypeError);
    assert.throws(() => defineContract({ client: { subscribe: procedure() } }), TypeError);
    const nested = defineContract({ ping: procedure(), client: { client: { ask: procedure() } } });
    assert.doesNotThrow(() => createService(nested, { ping: () => {} }));
  });
});
