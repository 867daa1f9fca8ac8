/**
 * The cost of one call in-process, without sockets or the load generator: `bun bench/call-cost.ts`
 * or `deno run -A bench/call-cost.ts`. Sends 100,000 `echo` call frames of the bench contract
 * (valibot input and output schemas, as bench/targets/tether.ts) through `service.receive` to a
 * socket that keeps the last answer, alternating with a "raw" loop that does the raw echo's
 * `JSON.parse` + `JSON.stringify` of its own frames; prints the best µs per call of each over
 * `ROUNDS` rounds (environment, default 10), of wall time and of the process's CPU time (its
 * threads' too, the garbage collector's: steadier on a shared machine). `ONLY=tether` or
 * `ONLY=raw` runs one loop alone, e.g. under `deno run -A --v8-flags=--trace-gc-nvp` to count the
 * bytes a call allocates.
 * @module
 */
import process from "node:process";
import * as v from "valibot";
import { createService, defineContract, procedure } from "../server/mod.ts";
import type { Socket } from "../server/socket.ts";

const Payload = v.object({ text: v.string(), n: v.number(), ok: v.boolean() });
const service = createService(defineContract({ echo: procedure({ input: Payload, output: Payload }) }), { echo: (input) => input }, {
  limits: { ratePerSecond: Infinity },
});

let last: unknown;
const socket: Socket = { send: (frame) => ((last = frame), "written"), close() {}, bufferedAmount: () => 0 };
const conn = service.open(socket, undefined, "127.0.0.1", undefined);

const CALLS = 100_000;
const PAYLOAD = JSON.stringify({ text: "hello, benchmark", n: 42, ok: true });
const calls = Array.from({ length: CALLS }, (_, i) => `{"type":"call","id":${i + 1},"method":"echo","input":{"json":${PAYLOAD}}}`);
const raws = Array.from({ length: CALLS }, (_, i) => `{"id":${i + 1},"input":${PAYLOAD}}`);

/** One round's cost per call: wall µs, and the process's CPU µs (steadier when the machine is shared). */
interface Cost {
  wall: number;
  cpu: number;
}

/** Times one round of `CALLS` steps. */
function round(step: (i: number) => void): Cost {
  const cpu = process.cpuUsage();
  const t = performance.now();
  for (let i = 0; i < CALLS; i++) step(i);
  const wall = ((performance.now() - t) * 1000) / CALLS;
  const used = process.cpuUsage(cpu);
  return { wall, cpu: (used.user + used.system) / CALLS };
}

/** One round through the service. */
const tether = () => round((i) => service.receive(conn, calls[i]!));

/** One round of the raw echo's work. */
const raw = () =>
  round((i) => {
    const frame = JSON.parse(raws[i]!) as { id: number; input: unknown };
    last = JSON.stringify({ id: frame.id, output: frame.input });
  });

/** The lower of each figure. */
const best = (a: Cost, b: Cost): Cost => ({ wall: Math.min(a.wall, b.wall), cpu: Math.min(a.cpu, b.cpu) });

const only = process.env.ONLY;
const rounds = Number(process.env.ROUNDS ?? 10);
const none: Cost = { wall: Infinity, cpu: Infinity };
let bestTether = none;
let bestRaw = none;
for (let r = 0; r < rounds; r++) {
  if (only !== "raw") {
    bestTether = best(bestTether, tether());
    if (!String(last).startsWith(`{"type":"result","id":${CALLS},`)) throw new Error(`The service did not answer: ${String(last)}`);
  }
  if (only !== "tether") bestRaw = best(bestRaw, raw());
}
const runtime = "Bun" in globalThis ? "Bun" : "Deno";
const shown = (c: Cost) => `${c.wall.toFixed(2)} µs/call (CPU ${c.cpu.toFixed(2)})`;
console.log(`${runtime}: Tether ${shown(bestTether)}, raw parse + stringify ${shown(bestRaw)} (best of ${rounds} × ${CALLS})`);
service.closed(conn);
process.exit(0);
