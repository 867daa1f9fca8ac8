/**
 * Type tests of declared errors: checked by `deno check tests/` and `tsc -p .` in CI, never run.
 * Every `@ts-expect-error` marks a misuse the compiler must reject; an unused one fails the check.
 * @module
 */
import * as v from "valibot";
import { type CallError, createClient } from "../../client/mod.ts";
import { createService, defineContract, procedure } from "../../server/mod.ts";

const contract = defineContract({
  shop: {
    buy: procedure({
      input: v.object({ sku: v.string() }),
      output: v.object({ orderId: v.string() }),
      errors: {
        OUT_OF_STOCK: v.object({ sku: v.string(), left: v.number() }),
        CARD_DECLINED: v.object({ reason: v.picklist(["expired", "funds"]) }),
      },
    }),
    peek: procedure({ output: v.number() }),
  },
});
type C = typeof contract;

// ---- server side: ctx.error is typed by the procedure's declaration ----

createService(contract, {
  shop: {
    buy: ({ sku }, ctx) => {
      if (sku === "a") throw ctx.error("OUT_OF_STOCK", "Only 2 left", { sku, left: 2 });
      if (sku === "b") throw ctx.error("CARD_DECLINED", "Card declined", { reason: "funds" });
      // @ts-expect-error an undeclared code
      if (sku === "c") throw ctx.error("SOLD_OUT", "Gone", { sku });
      // @ts-expect-error data of the wrong shape for the code
      if (sku === "d") throw ctx.error("OUT_OF_STOCK", "Only 2 left", { sku, left: "2" });
      // @ts-expect-error data of another code
      if (sku === "e") throw ctx.error("CARD_DECLINED", "Declined", { sku, left: 2 });
      return { orderId: "o1" };
    },
    peek: (_input, ctx) => {
      // @ts-expect-error a procedure without declared errors has no codes for ctx.error
      throw ctx.error("OUT_OF_STOCK", "No", { sku: "a", left: 0 });
    },
  },
});

// ---- client side: the safe form's error is a union over declared and protocol codes ----

export async function declaredErrors(): Promise<void> {
  const { api } = createClient<C>("ws://localhost:1/ws");
  const r = await api.shop.buy.safe({ sku: "a" });
  if (r.ok) {
    const id: string = r.data.orderId;
    void id;
    return;
  }
  const error: CallError<C["shop"]["buy"]> = r.error;
  if (error.code === "OUT_OF_STOCK") {
    const left: number = error.data.left;
    const sku: string = error.data.sku;
    // @ts-expect-error OUT_OF_STOCK data has no reason
    void error.data.reason;
    void [left, sku];
  } else if (error.code === "CARD_DECLINED") {
    const reason: "expired" | "funds" = error.data.reason;
    void reason;
  } else if (error.code === "TIMEOUT") {
    // protocol codes carry unknown data
    const data: unknown = error.data;
    void data;
  }
  // @ts-expect-error not a code this call can fail with
  if (error.code === "SOLD_OUT") return;

  const p = await api.shop.peek.safe();
  // @ts-expect-error peek declares no errors: only protocol codes
  if (!p.ok && p.error.code === "OUT_OF_STOCK") return;
}
