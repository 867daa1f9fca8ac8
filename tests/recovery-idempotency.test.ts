import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createClient } from "../client/mod.ts";
import { createService, defineContract, procedure, type RunningServer } from "../server/mod.ts";
import { openRaw } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";
import { startTcpProxy, type TcpProxy } from "./fixtures/tcp-proxy.ts";

const contract = defineContract({
  bump: procedure({ output: v.number() }),
  slowBump: procedure({ input: v.object({ ms: v.number() }), output: v.number() }),
});

describe(`idempotent retries on ${RUNTIME}`, () => {
  let server: RunningServer;
  let proxy: TcpProxy;
  let runs = 0;
  before(async () => {
    const service = createService(contract, {
      bump: () => ++runs,
      // Ignores its signal on purpose: the work happens even if the caller went away.
      slowBump: async ({ ms }) => {
        const n = ++runs;
        await new Promise((r) => setTimeout(r, ms));
        return n;
      },
    });
    server = await serve(service);
    proxy = await startTcpProxy(Number(new URL(server.url).port));
  });
  after(async () => {
    await proxy.close();
    await server.stop();
  });

  it("a call repeated with the same idempotency key runs once and answers the stored result, even on a new connection", async () => {
    const first = await openRaw(server.url);
    first.send({ type: "call", id: 1, method: "bump", idempotencyKey: "key-a" });
    const a = await first.next((f) => f.id === 1);
    await first.close();
    const second = await openRaw(server.url);
    try {
      second.send({ type: "call", id: 7, method: "bump", idempotencyKey: "key-a" });
      second.send({ type: "call", id: 8, method: "bump", idempotencyKey: "key-b" });
      const again = await second.next((f) => f.id === 7);
      const other = await second.next((f) => f.id === 8);
      assert.deepEqual(again.output, a.output);
      assert.equal(other.output.json, a.output.json + 1, "a different key runs the handler");
    } finally {
      await second.close();
    }
  });

  it("a retry-safe call whose connection drops mid-call is re-sent and the handler still runs once", async () => {
    const client = createClient<typeof contract>(proxy.via(server.url), { reconnect: { min: 10, max: 50 } });
    try {
      await client.ready();
      const before = runs;
      const answer = client.api.slowBump({ ms: 300 }, { retry: true });
      await until(() => runs === before + 1, 2000, "the handler to start");
      proxy.reset();
      assert.equal(await answer, before + 1);
      assert.equal(runs, before + 1, "the re-sent call did not run the handler again");
    } finally {
      client.close();
    }
  });
});
