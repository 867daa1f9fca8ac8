/**
 * tRPC v11 under test over WebSocket (`ws` + applyWSSHandler, superjson, valibot inputs), on Node or
 * Bun: an `echo` query, a `pub` mutation and a `feed` subscription. Prints `READY <port>`.
 * run.ts compiles this file to JavaScript first, because Node 20 does not run TypeScript.
 * @module
 */
import { collectOnSignal } from "./collect-on-signal.ts";
import { EventEmitter } from "node:events";
import type { AddressInfo } from "node:net";
import { initTRPC } from "@trpc/server";
import { applyWSSHandler } from "@trpc/server/adapters/ws";
import { observable } from "@trpc/server/observable";
import superjson from "superjson";
import * as v from "valibot";
import { WebSocketServer } from "ws";

/** The call payload every target echoes. */
const Payload = v.object({ text: v.string(), n: v.number(), ok: v.boolean() });
/** One fan-out message. */
const Message = v.object({ seq: v.number(), text: v.string() });
type Message = v.InferOutput<typeof Message>;

const t = initTRPC.create({ transformer: superjson });
const feed = new EventEmitter();
feed.setMaxListeners(0);

const router = t.router({
  echo: t.procedure.input(Payload).query(({ input }) => input),
  pub: t.procedure.input(Message).mutation(({ input }) => {
    feed.emit("message", input);
  }),
  feed: t.procedure.subscription(() =>
    observable<Message>((emit) => {
      const listener = (message: Message) => emit.next(message);
      feed.on("message", listener);
      return () => feed.off("message", listener);
    })
  ),
});

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
applyWSSHandler({ wss, router });
wss.on("listening", () => console.log(`READY ${(wss.address() as AddressInfo).port}`));
collectOnSignal();
