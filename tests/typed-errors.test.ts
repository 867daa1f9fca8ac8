/**
 * Typed errors per procedure over a real socket: a declared code arrives with its validated data; an
 * undeclared code, or data its schema refuses, becomes INTERNAL and a warn log, never leaking the data.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createClient, RpcError } from "../client/mod.ts";
import { generateClientModule } from "../codegen/client-module.ts";
import { createLogger } from "../server/log.ts";
import { createService, defineContract, procedure, type RunningServer } from "../server/mod.ts";
import { openRaw } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve } from "./fixtures/serve.ts";

const contract = defineContract({
  shop: {
    buy: procedure({
      input: v.object({ sku: v.string(), mode: v.picklist(["typed", "class", "bad-data", "undeclared", "protocol", "ok"]) }),
      output: v.object({ orderId: v.string() }),
      errors: {
        OUT_OF_STOCK: v.object({ sku: v.string(), left: v.number(), at: v.pipe(v.string(), v.transform((s) => new Date(s))) }),
      },
    }),
  },
});

describe(`declared errors over a real ${RUNTIME} server`, () => {
  let server: RunningServer;
  const logged: string[] = [];
  before(async () => {
    const service = createService(contract, {
      shop: {
        buy: ({ sku, mode }, ctx) => {
          if (mode === "typed") throw ctx.error("OUT_OF_STOCK", "Only 2 left", { sku, left: 2, at: "2026-01-01T00:00:00.000Z" });
          if (mode === "class") throw new RpcError("OUT_OF_STOCK", "Only 1 left", { sku, left: 1, at: "2026-01-02T00:00:00.000Z" });
          if (mode === "bad-data") throw new RpcError("OUT_OF_STOCK", "Broken", { sku, left: "secret", at: "x" });
          if (mode === "undeclared") throw new RpcError("SOLD_OUT", "Gone", { secret: "s3cret" });
          if (mode === "protocol") throw new RpcError("CONFLICT", "Taken", { suggestion: "b" });
          return { orderId: `o-${sku}` };
        },
      },
    }, { logger: createLogger("warn", (line) => logged.push(line)) });
    server = await serve(service);
  });
  after(() => server.stop());

  const withApi = async (fn: (api: ReturnType<typeof createClient<typeof contract>>["api"]) => Promise<void>) => {
    const client = createClient<typeof contract>(server.url, { reconnect: false });
    try {
      await fn(client.api);
    } finally {
      client.close();
    }
  };

  it("ctx.error: the client gets the declared code and the data as the schema outputs it", () =>
    withApi(async (api) => {
      const r = await api.shop.buy.safe({ sku: "a", mode: "typed" });
      assert.equal(r.ok, false);
      if (r.ok || r.error.code !== "OUT_OF_STOCK") return assert.fail("expected OUT_OF_STOCK");
      assert.ok(r.error instanceof RpcError);
      assert.equal(r.error.message, "Only 2 left");
      assert.deepEqual(r.error.data, { sku: "a", left: 2, at: new Date("2026-01-01T00:00:00.000Z") });
      await assert.rejects(api.shop.buy({ sku: "b", mode: "class" }), (e: RpcError) => e.code === ("OUT_OF_STOCK" as string) && (e.data as { left: number }).left === 1);
    }));

  it("data the schema refuses, or an undeclared code, becomes INTERNAL with a warn log and no data", () =>
    withApi(async (api) => {
      for (const mode of ["bad-data", "undeclared"] as const) {
        const before = logged.length;
        const r = await api.shop.buy.safe({ sku: "c", mode });
        if (r.ok) return assert.fail("expected an error");
        assert.equal(r.error.code, "INTERNAL", mode);
        assert.equal(r.error.data, undefined, `${mode}: nothing unvalidated leaks`);
        assert.ok(!JSON.stringify(r.error.message).includes("secret"));
        assert.ok(logged.slice(before).some((line) => JSON.parse(line).level === "warn" && line.includes("shop.buy")), `${mode}: warn log`);
      }
      const ok = await api.shop.buy({ sku: "d", mode: "ok" });
      assert.equal(ok.orderId, "o-d");
      const conflict = await api.shop.buy.safe({ sku: "e", mode: "protocol" });
      assert.ok(!conflict.ok && conflict.error.code === "CONFLICT");
    }));

  it("the error frame carries the declared code on the wire", async () => {
    const raw = await openRaw(server.url);
    raw.send({ type: "call", id: 1, method: "shop.buy", input: { json: { sku: "f", mode: "typed" } } });
    const frame = await raw.next((f) => f.type === "error");
    assert.equal(frame.code, "OUT_OF_STOCK");
    assert.equal(frame.message, "Only 2 left");
    assert.deepEqual(frame.data.json, { sku: "f", left: 2, at: "2026-01-01T00:00:00.000Z" });
    await raw.close();
  });

  it("a generated client carries the declared codes and their data types", () => {
    const source = generateClientModule({ contract, serviceName: "Shop", namedSchemas: {}, source: "contract.ts", regenerate: "codegen" });
    assert.match(source, /buy: Procedure<Schema<ShopBuyInput>, Schema<ShopBuyOutput>, \{ readonly OUT_OF_STOCK: Schema<ShopBuyErrorOutOfStock> \}>/);
    assert.match(source, /export interface ShopBuyErrorOutOfStock \{[^}]*left: number;/s);
  });

  it("defineContract refuses an error code that is not UPPER_SNAKE or collides with a protocol code", () => {
    for (const code of ["TIMEOUT", "INTERNAL", "outOfStock", "9LIVES", "OUT-OF-STOCK"]) {
      assert.throws(() => defineContract({ p: procedure({ errors: { [code]: v.string() } }) }), TypeError, code);
    }
    assert.doesNotThrow(() => defineContract({ p: procedure({ errors: { OUT_OF_STOCK: v.string(), E2: v.undefined() } }) }));
  });
});
