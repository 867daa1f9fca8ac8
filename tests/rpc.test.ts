import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createClient, RpcError } from "../client/mod.ts";
import { createService, defineContract, procedure, type RunningServer } from "../server/mod.ts";
import { RUNTIME, serve } from "./fixtures/serve.ts";

const contract = defineContract({
  math: {
    add: procedure({ input: v.object({ a: v.number(), b: v.number() }), output: v.number() }),
    slow: procedure({ input: v.object({ ms: v.number() }), output: v.string() }),
  },
  echo: procedure({ input: v.unknown(), output: v.unknown() }),
});

describe(`RPC calls over a real ${RUNTIME} server`, () => {
  let server: RunningServer;
  before(async () => {
    const service = createService(contract, {
      math: {
        add: ({ a, b }) => a + b,
        slow: ({ ms }, ctx) =>
          new Promise((resolve, reject) => {
            const t = setTimeout(() => resolve(`slept ${ms}`), ms);
            ctx.signal.addEventListener("abort", () => (clearTimeout(t), reject(ctx.signal.reason)));
          }),
      },
      echo: (x) => x,
    });
    server = await serve(service);
  });
  after(() => server.stop());

  it("call() resolves with the typed output", async () => {
    const client = createClient<typeof contract>(server.url);
    try {
      assert.equal(await client.api.math.add({ a: 2, b: 3 }), 5);
    } finally {
      client.close();
    }
  });

  it("call() rejects with INVALID_INPUT and issue paths", async () => {
    const client = createClient<typeof contract>(server.url);
    try {
      // @ts-expect-error b must be a number
      const err = await client.api.math.add({ a: 1, b: "x" }).catch((e) => e);
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, "INVALID_INPUT");
    } finally {
      client.close();
    }
  });
});
