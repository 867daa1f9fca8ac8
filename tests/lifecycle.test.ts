/**
 * Connection lifecycle over real sockets: the server's `onConnect` / `onDisconnect` hooks (with the
 * close code and reason, however the connection ended), `service.disconnect()`, and the client's
 * "state" events, each with the reason of the change.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createClient, type StateChange } from "../client/mod.ts";
import { type CloseInfo, createLogger, createService, defineContract, procedure, type RunningServer, topic } from "../server/mod.ts";
import { openRaw } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";

const contract = defineContract({
  rooms: procedure({ output: v.array(v.string()) }),
  feed: topic({ message: v.string() }),
});

interface Auth {
  user: string;
}

describe(`connection lifecycle on ${RUNTIME}`, () => {
  const connected: { id: string; user: string }[] = [];
  const disconnected: { id: string; user: string; rooms: string[]; close: CloseInfo }[] = [];
  const logs: string[] = [];
  const service = createService<typeof contract, Auth>(contract, {
    rooms: (_, ctx) => [...ctx.rooms()],
  }, {
    authenticate: (request) => ({ user: new URL(request.url).searchParams.get("user") ?? "anonymous" }),
    onConnect: (ctx) => {
      connected.push({ id: ctx.connectionId, user: ctx.auth.user });
      ctx.join(`user:${ctx.auth.user}`);
      if (ctx.auth.user === "throws") throw new Error("hook failure");
    },
    onDisconnect: (ctx, close) => void disconnected.push({ id: ctx.connectionId, user: ctx.auth.user, rooms: [...ctx.rooms()], close }),
    logger: createLogger("warn", (line) => logs.push(line)),
  });
  let server: RunningServer;
  before(async () => {
    server = await serve(service);
  });
  after(() => server.stop());

  const closeOf = (id: string) => disconnected.find((d) => d.id === id)?.close;

  it("onConnect runs with the connection's context (id, auth, rooms); what it joins handlers see", async () => {
    const raw = await openRaw(`${server.url}?user=ada`);
    try {
      assert.deepEqual(connected.at(-1), { id: raw.hello.connectionId, user: "ada" });
      raw.send({ type: "call", id: 1, method: "rooms" });
      assert.deepEqual((await raw.next((f) => f.id === 1)).output.json, ["user:ada"]);
    } finally {
      await raw.close();
    }
  });

  it("onDisconnect runs once with the peer's code and reason, before the connection's rooms are released", async () => {
    const raw = await openRaw(`${server.url}?user=bob`);
    const id = raw.hello.connectionId;
    raw.ws.close(4100, "tab closed");
    await until(() => closeOf(id) !== undefined, 3000, "onDisconnect");
    assert.deepEqual(closeOf(id), { code: 4100, reason: "tab closed" });
    const entry = disconnected.find((d) => d.id === id)!;
    assert.deepEqual(entry.rooms, ["user:bob"]);
    assert.equal(disconnected.filter((d) => d.id === id).length, 1);
    assert.deepEqual(service.roomMembers("user:bob"), []);
  });

  it("an onConnect hook that throws is logged and the connection keeps working", async () => {
    const raw = await openRaw(`${server.url}?user=throws`);
    try {
      raw.send({ type: "call", id: 1, method: "rooms" });
      assert.equal((await raw.next((f) => f.id === 1)).type, "result");
      assert.ok(logs.some((l) => JSON.parse(l).msg === "onConnect failed" && l.includes(raw.hello.connectionId)), logs.join("\n"));
    } finally {
      await raw.close();
    }
  });

  it("service.disconnect(id, code, reason) closes that connection only; the peer and onDisconnect see the code and reason", async () => {
    const target = await openRaw(`${server.url}?user=cy`);
    const other = await openRaw(`${server.url}?user=dee`);
    try {
      assert.equal(service.disconnect(target.hello.connectionId, 4000 + 321, "kicked by an admin"), true);
      assert.deepEqual(await target.closed, { code: 4321, reason: "kicked by an admin" });
      await until(() => closeOf(target.hello.connectionId) !== undefined, 3000, "onDisconnect");
      assert.deepEqual(closeOf(target.hello.connectionId), { code: 4321, reason: "kicked by an admin" });
      other.send({ type: "call", id: 1, method: "rooms" });
      assert.deepEqual((await other.next((f) => f.id === 1)).output.json, ["user:dee"]);
      assert.equal(service.disconnect(target.hello.connectionId), false, "no such connection any more");
      assert.throws(() => service.disconnect(other.hello.connectionId, 1006), RangeError);
      // A reason longer than a close frame carries is cut to 123 bytes of UTF-8, never mid-character.
      assert.equal(service.disconnect(other.hello.connectionId, 4000, "é".repeat(100)), true);
      const { code, reason } = await other.closed;
      assert.equal(code, 4000);
      assert.equal(reason, "é".repeat(61));
    } finally {
      await target.close();
      await other.close();
    }
  });

  it("the client reports every state change with its reason: open, reconnecting (server's code and reason), closed on a server's 1000", async () => {
    const client = createClient<typeof contract>(`${server.url}?user=eve`, { reconnect: { min: 5, max: 10 } });
    // The first change (to "connecting") happens inside createClient, before anyone can listen.
    assert.equal(client.state, "connecting");
    const changes: [string, StateChange][] = [];
    client.on("state", (state, change) => changes.push([state, change]));
    try {
      await client.ready();
      const first = client.connectionId!;
      service.disconnect(first, 1013, "retry=0; restarting");
      await until(() => client.state === "open" && client.connectionId !== first, 3000, "the reconnect");
      assert.deepEqual(closeOf(first), { code: 1013, reason: "retry=0; restarting" });
      // 1000 from the server means the session is over (Socket.IO's "io server disconnect"): no reconnect.
      service.disconnect(client.connectionId!);
      await until(() => client.state === "closed", 3000, "the client to close");
      await assert.rejects(client.ready(), { code: "DISCONNECTED" });
      // A plain WebSocket names no transport (the HTTP fallback's socket does: tests/http-fallback.test.ts).
      assert.deepEqual(changes, [
        ["open", { reason: "connected", transport: undefined }],
        ["reconnecting", { code: 1013, reason: "retry=0; restarting" }],
        ["open", { reason: "connected", transport: undefined }],
        ["closed", { code: 1000, reason: "disconnected by the server" }],
      ]);
    } finally {
      client.close();
    }
  });

  it("close() reports closed with code 1000 and reason \"client closed\"; onDisconnect hears the client's close", async () => {
    const client = createClient<typeof contract>(`${server.url}?user=fay`);
    await client.ready();
    const id = client.connectionId!;
    const changes: [string, StateChange][] = [];
    client.on("state", (state, change) => changes.push([state, change]));
    client.close();
    assert.deepEqual(changes, [["closed", { code: 1000, reason: "client closed" }]]);
    await until(() => closeOf(id) !== undefined, 3000, "onDisconnect");
    assert.deepEqual(closeOf(id), { code: 1000, reason: "client closed" });
  });
});
