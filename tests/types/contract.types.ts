/**
 * Type tests: checked by `deno check tests/` and `tsc -p .` in CI, never run. Every
 * `@ts-expect-error` marks a misuse the compiler must reject; an unused one fails the check.
 * @module
 */
import * as v from "valibot";
import { createClient } from "../../client/mod.ts";
import { createService, defineContract, procedure, topic } from "../../server/mod.ts";

const contract = defineContract({
  math: { add: procedure({ input: v.object({ a: v.number(), b: v.number() }), output: v.number() }) },
  clock: { now: procedure({ output: v.date() }) },
  rooms: {
    messages: topic({ params: v.object({ roomId: v.string() }), message: v.object({ text: v.string(), at: v.date() }), presence: v.object({ name: v.string() }) }),
    typing: topic({ params: v.object({ roomId: v.string() }), message: v.object({ typing: v.boolean() }), clientPublish: true }),
  },
  trimmed: procedure({ input: v.pipe(v.string(), v.transform((s) => s.length)), output: v.string() }),
});
type C = typeof contract;

// ---- server side ----

createService(contract, {
  math: { add: ({ a, b }) => a + b },
  clock: { now: () => new Date() },
  trimmed: (length) => {
    const n: number = length; // handlers receive the schema's output type (after transforms)
    return String(n);
  },
}, {
  authenticate: () => ({ userId: "u1" }),
});

createService(contract, {
  // @ts-expect-error the handler must return a number
  math: { add: () => "five" },
  clock: { now: () => new Date() },
  trimmed: () => "",
});

// @ts-expect-error every procedure needs a handler (clock.now is missing)
createService(contract, { math: { add: ({ a, b }) => a + b }, trimmed: () => "" });

const service = createService(contract, {
  math: {
    add: ({ a, b }, ctx) => {
      const id: string = ctx.auth.userId; // ctx.auth is typed from authenticate
      ctx.publish("rooms.messages", { roomId: id }, { text: "hi", at: new Date() });
      // @ts-expect-error the message does not match the topic's schema
      ctx.publish("rooms.messages", { roomId: id }, { text: 1, at: new Date() });
      // @ts-expect-error no such topic
      ctx.broadcast("rooms.nope", { roomId: id }, { text: "" });
      return a + b;
    },
  },
  clock: { now: () => new Date() },
  trimmed: () => "",
  rooms: {
    messages: {
      authorize: ({ roomId }, ctx) => roomId.startsWith(ctx.auth.userId),
      presence: (_params, ctx) => ({ key: ctx.auth.userId, meta: { name: "ada" } }),
    },
  },
}, { authenticate: () => ({ userId: "u1" }) });

service.publish("rooms.typing", { roomId: "r" }, { typing: true });
// @ts-expect-error params must have roomId
service.publish("rooms.typing", {}, { typing: true });

// ---- client side ----

export async function clientTypes(): Promise<void> {
  const { api } = createClient<C>("ws://localhost/ws");
  const sum: number = await api.math.add({ a: 1, b: 2 });
  const when: Date = await api.clock.now();
  const length: string = await api.trimmed("  input type is string  ");
  void [sum, when, length];

  // @ts-expect-error b must be a number
  await api.math.add({ a: 1, b: "2" });
  // @ts-expect-error input is required
  await api.math.add();
  // @ts-expect-error the output is a number, not a string
  const _wrong: string = await api.math.add({ a: 1, b: 2 });
  // @ts-expect-error no such procedure
  await api.math.subtract({ a: 1, b: 2 });
  // @ts-expect-error the input type of `trimmed` is string, not number
  await api.trimmed(3);

  const result = await api.math.add.safe({ a: 1, b: 2 });
  if (result.ok) {
    const n: number = result.data;
    void n;
  } else {
    const code: string = result.error.code;
    void code;
  }

  const sub = api.rooms.messages.subscribe({ roomId: "lobby" }, {
    onData: (m) => {
      const at: Date = m.at;
      // @ts-expect-error messages have no `author`
      void m.author;
      void at;
    },
    onPresence: (p) => {
      const names: string[] = Object.values(p.members).flat().map((meta) => meta.name);
      void names;
    },
  });
  for await (const m of sub) {
    const text: string = m.text;
    void text;
  }
  // @ts-expect-error params need roomId
  api.rooms.messages.subscribe({ room: "lobby" });
  await api.rooms.typing.publish({ roomId: "lobby" }, { typing: true });
  // @ts-expect-error typing must be a boolean
  await api.rooms.typing.publish({ roomId: "lobby" }, { typing: "yes" });
}

// ---- the contract itself ----

// @ts-expect-error a topic needs a message schema
topic({ params: v.object({}) });

export async function noInputProcedures(): Promise<void> {
  const { api } = createClient<C>("ws://localhost/ws");
  await api.clock.now();
  // @ts-expect-error clock.now takes no input
  await api.clock.now(123);
}
