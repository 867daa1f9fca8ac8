/**
 * Authentication refusals reach the client over real sockets: a refused handshake opens, carries an
 * UNAUTHORIZED / FORBIDDEN error frame and closes with 4401 / 4403; the client ends in state
 * "unauthorized" with that typed error (no reconnect loop), after trying `refreshAuth` once.
 * (tests/browser.test.ts shows the same in Chromium.)
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createClient, RpcError, type StateChange } from "../client/mod.ts";
import { createService, defineContract, procedure, type RunningServer, topic } from "../server/mod.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";

const contract = defineContract({
  whoami: procedure({ output: v.string() }),
  feed: topic({ message: v.string() }),
});

const isCode = (code: string) => (e: unknown) => e instanceof RpcError && e.code === code;

describe(`authentication refusals on ${RUNTIME}`, () => {
  const handshakes: string[] = [];
  const service = createService<typeof contract, string>(contract, { whoami: (_, ctx) => ctx.auth }, {
    authenticate: (request) => {
      const token = new URL(request.url).searchParams.get("token") ?? "";
      handshakes.push(token);
      if (token === "banned") throw new RpcError("FORBIDDEN", "This account is suspended");
      if (!token.startsWith("valid-")) throw new RpcError("UNAUTHORIZED", "Token expired or invalid");
      return token.slice(6);
    },
  });
  let server: RunningServer;
  before(async () => {
    server = await serve(service);
  });
  after(() => server.stop());

  /** Handshakes made with `token` so far. */
  const tries = (token: string) => handshakes.filter((t) => t === token).length;
  /** Long enough for several reconnects at the backoff these tests use (5-10 ms), were there any. */
  const noLoopWindow = () => new Promise((r) => setTimeout(r, 150));

  it("a refused handshake ends in state unauthorized with a typed UNAUTHORIZED error: calls, ready() and subscriptions fail, no reconnect loop", async () => {
    const changes: [string, StateChange][] = [];
    const client = createClient<typeof contract>(server.url, { reconnect: { min: 5, max: 10 }, params: () => ({ token: "stale" }) });
    client.on("state", (state, change) => changes.push([state, change]));
    const call = client.api.whoami(undefined).catch((e) => e);
    const sub = client.api.feed.subscribe(undefined, {});
    try {
      await until(() => client.state === "unauthorized", 3000, "the refusal");
      const [state, change] = changes.at(-1)!;
      assert.equal(state, "unauthorized");
      assert.equal(change.code, 4401);
      assert.equal(change.reason, "Token expired or invalid");
      assert.ok(isCode("UNAUTHORIZED")(change.error));
      assert.equal(change.error?.message, "Token expired or invalid");
      assert.ok(isCode("UNAUTHORIZED")(await call));
      await assert.rejects(sub.ready, isCode("UNAUTHORIZED"));
      await assert.rejects(client.ready(), isCode("UNAUTHORIZED"));
      await assert.rejects(client.api.whoami(undefined), isCode("UNAUTHORIZED"));
      await noLoopWindow();
      assert.equal(tries("stale"), 1, "one handshake, no retries");
      assert.equal(service.connections.size, 0);
    } finally {
      client.close();
    }
    assert.equal(client.state, "closed");
  });

  it("FORBIDDEN at the handshake closes with 4403 and ends in unauthorized with a FORBIDDEN error", async () => {
    const client = createClient<typeof contract>(server.url, { reconnect: { min: 5, max: 10 }, params: () => ({ token: "banned" }) });
    try {
      await assert.rejects(client.ready(), (e) => isCode("FORBIDDEN")(e) && (e as Error).message === "This account is suspended");
      assert.equal(client.state, "unauthorized");
    } finally {
      client.close();
    }
  });

  it("refreshAuth runs once with the error; resolving true reconnects at once with the fresh params", async () => {
    let token = "old";
    const seen: RpcError[] = [];
    const changes: string[] = [];
    const client = createClient<typeof contract>(server.url, {
      reconnect: { min: 5, max: 10 },
      params: () => ({ token }),
      refreshAuth: async (error) => {
        seen.push(error);
        token = await Promise.resolve("valid-ada");
        return true;
      },
    });
    client.on("state", (state) => changes.push(state));
    try {
      assert.equal(await client.api.whoami(undefined), "ada");
      assert.equal(seen.length, 1);
      assert.ok(isCode("UNAUTHORIZED")(seen[0]));
      assert.deepEqual(changes, ["reconnecting", "open"]);
    } finally {
      client.close();
    }
  });

  it("a refresh that does not help ends in unauthorized after one more handshake, not a loop", async () => {
    let refreshes = 0;
    const client = createClient<typeof contract>(server.url, {
      reconnect: { min: 5, max: 10 },
      params: () => ({ token: "still-bad" }),
      refreshAuth: () => (refreshes++, true),
    });
    try {
      await assert.rejects(client.ready(), isCode("UNAUTHORIZED"));
      await noLoopWindow();
      assert.equal(refreshes, 1);
      assert.equal(tries("still-bad"), 2);
      assert.equal(client.state, "unauthorized");
    } finally {
      client.close();
    }
  });

  it("refreshAuth resolving false, or throwing, gives up at once", async () => {
    for (const refreshAuth of [() => false, () => Promise.reject(new Error("login needed"))]) {
      const client = createClient<typeof contract>(server.url, { reconnect: { min: 5, max: 10 }, params: () => ({ token: "nope" }), refreshAuth });
      try {
        await assert.rejects(client.ready(), isCode("UNAUTHORIZED"));
        assert.equal(client.state, "unauthorized");
      } finally {
        client.close();
      }
    }
  });

  it("auth expired mid-session (close 4003): refreshAuth renews the token and the client resubscribes", async () => {
    let token = "valid-bob";
    let refreshes = 0;
    const client = createClient<typeof contract>(server.url, {
      reconnect: { min: 5, max: 10 },
      params: () => ({ token }),
      refreshAuth: () => {
        refreshes++;
        token = "valid-bob2";
        return true;
      },
    });
    try {
      const got: string[] = [];
      const confirms: boolean[] = [];
      const sub = client.api.feed.subscribe(undefined, { onData: (m) => got.push(m), onSubscribed: (i) => confirms.push(i.resubscribed) });
      await sub.ready;
      const first = client.connectionId!;
      service.disconnect(first, 4003, "token expired");
      await until(() => confirms.length === 2, 3000, "the resubscription");
      assert.equal(refreshes, 1);
      assert.notEqual(client.connectionId, first);
      assert.equal(await client.api.whoami(undefined), "bob2");
      service.publish("feed", undefined, "after refresh");
      await until(() => got.length === 1, 2000, "a message after the refresh");
    } finally {
      client.close();
    }
  });
});
