/**
 * Tether under test: an `echo` procedure, a `pub` procedure that publishes to the `feed` topic, a
 * `shout` procedure that broadcasts to it (every subscriber but the caller), and the `feed` topic
 * itself (clients may publish to it), served by the adapter of the runtime running this file.
 * Prints `READY <port>` once listening on 127.0.0.1. The rate limit is lifted (`ratePerSecond:
 * Infinity`): the default 1000 frames/s per connection would throttle the throughput scenario.
 * @module
 */
import { collectOnSignal } from "./collect-on-signal.ts";
import * as v from "valibot";
import { createService, defineContract, procedure, topic } from "../../server/mod.ts";

/** The call payload every target echoes. */
const Payload = v.object({ text: v.string(), n: v.number(), ok: v.boolean() });
/** One fan-out message. */
const Message = v.object({ seq: v.number(), text: v.string() });

/** The bench contract. */
const contract = defineContract({
  echo: procedure({ input: Payload, output: Payload }),
  pub: procedure({ input: Message }),
  shout: procedure({ input: Message }),
  feed: topic({ message: Message, clientPublish: true }),
});

/** The bench contract's type, for the browser bench's client (bench/browser/page.ts). */
export type BenchContract = typeof contract;

const service = createService(contract, {
  echo: (input) => input,
  pub: (message, ctx) => ctx.publish("feed", undefined, message),
  shout: (message, ctx) => ctx.broadcast("feed", undefined, message),
}, {
  limits: { ratePerSecond: Infinity },
  // The idle bench's diagnostic `--server-beats=off`: the first beat (and sweep) far beyond any held window.
  ...process.env.TETHER_BENCH_SERVER_BEATS === "off" ? { heartbeat: { interval: 1e9, timeout: 2e9 } } : {},
});

const options = { port: 0, hostname: "127.0.0.1" };
const server = "Bun" in globalThis
  ? (await import("../../server/adapters/bun.ts")).serveBun(service, options)
  : (await import("../../server/adapters/deno.ts")).serveDeno(service, options);
console.log(`READY ${server.port}`);
collectOnSignal();
