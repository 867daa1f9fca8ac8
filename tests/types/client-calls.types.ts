/**
 * Type tests of server-to-client calls: checked by `deno check tests/` and `tsc -p .` in CI, never
 * run. Every `@ts-expect-error` marks a misuse the compiler must reject; an unused one fails the check.
 * @module
 */
import * as v from "valibot";
import { createClient, RpcError, validated } from "../../client/mod.ts";
import { createService, defineContract, procedure } from "../../server/mod.ts";

const contract = defineContract({
  clear: procedure({ input: v.object({ room: v.string() }), output: v.number() }),
  client: {
    confirm: procedure({
      input: v.object({ question: v.string() }),
      output: v.object({ ok: v.boolean() }),
      errors: { DECLINED: v.object({ reason: v.string() }) },
    }),
    ui: { notify: procedure({ input: v.string() }) },
    at: procedure({ input: v.pipe(v.string(), v.transform((s) => new Date(s))), output: v.number() }),
  },
});
type C = typeof contract;

// ---- server side: ctx.client and service.client are typed by the client section ----

const service = createService(contract, {
  clear: async ({ room }, ctx) => {
    const { ok }: { ok: boolean } = await ctx.client.confirm({ question: `Clear ${room}?` }, { timeout: 5000 });
    await ctx.client.ui.notify("cleared", { signal: ctx.signal });
    // @ts-expect-error the input of confirm is an object with a question
    await ctx.client.confirm("Clear?");
    // @ts-expect-error no such client procedure
    await ctx.client.alert("x");
    // @ts-expect-error the output has no `answer`
    (await ctx.client.confirm({ question: "q" })).answer;
    return ok ? 1 : 0;
  },
});
const answer: Promise<{ ok: boolean }> = service.client("connection-id").confirm({ question: "q" });
void answer;
// @ts-expect-error a wrong input type
service.client("connection-id").ui.notify(42);

// @ts-expect-error the client section is the client's to implement: no server handler for it
createService(contract, { clear: () => 1, client: { confirm: () => ({ ok: true }) } });

// ---- the API a client calls does not include the client section ----

const client = createClient<C>("ws://localhost/ws", {
  implement: {
    confirm: ({ question }, { signal }) => {
      if (signal.aborted || question === "") throw new RpcError("DECLINED", "No", { reason: "empty" });
      return { ok: true };
    },
    ui: { notify: (text) => Promise.resolve(void text.toUpperCase()) },
    // Unvalidated: the input as sent (a string); validated: the schema's output (a Date).
    at: (iso) => iso.length,
  },
});
createClient<C>("ws://localhost/ws", {
  implement: {
    confirm: validated(contract.client.confirm, ({ question }) => ({ ok: question !== "" })),
    ui: { notify: validated(contract.client.ui.notify, () => {}) },
    at: validated(contract.client.at, (date) => date.getTime()),
  },
});
// @ts-expect-error validated passes the schema's output: a Date has no length
validated(contract.client.at, (date) => date.length);
void client.api.clear({ room: "a" });
// @ts-expect-error the client section is not callable from the client
void client.api.client;

// ---- implementations: every procedure, with the right types ----

createClient<C>("ws://localhost/ws", {
  // @ts-expect-error ui.notify is missing
  implement: { confirm: () => ({ ok: true }) },
});
createClient<C>("ws://localhost/ws", {
  implement: {
    // @ts-expect-error the output must be { ok: boolean }
    confirm: () => ({ ok: "yes" }),
    ui: { notify: () => {} },
    at: () => 0,
  },
});
createClient<C>("ws://localhost/ws", {
  implement: {
    // @ts-expect-error the input is { question: string }, not a number
    confirm: (n: number) => ({ ok: n > 0 }),
    ui: { notify: () => {} },
    at: () => 0,
  },
});
// Without `implement` the client answers every server call NOT_FOUND; that is allowed.
createClient<C>("ws://localhost/ws");
