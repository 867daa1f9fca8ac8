/**
 * `bun bench/churn.ts`: memory under connection churn. Each target (Tether and the raw echo, on Deno
 * and on Bun) is started fresh; then, for a few rounds, N connections open, subscribe to `feed` and sit
 * idle, and all close again. After each phase the target runs a full GC (SIGUSR2, see
 * targets/collect-on-signal.ts) and its RSS (/proc) and JS heap in use (its own `HEAP` line) are read.
 * Memory that a runtime keeps after its sockets closed shows up as RSS that does not come back while
 * the heap does. Flags: `--conns=N` (default 1000), `--rounds=R` (default 3), `--settle=MS` (default
 * 1000, the wait before each reading), `--rest=MS` (default 10000: one more reading after the last round
 * and that long idle, for whatever the runtime gives back late), `--only=a,b` (target ids), `--smoke`
 * (100 connections, 2 rounds, 1 s rest).
 * Prints a markdown table and one JSON line per reading.
 * @module
 */
import { closeAll, connectMany, subscribeAll } from "./load/connect.ts";
import { DRIVERS } from "./load/drivers.ts";
import { pause, rssOf } from "./load/meter.ts";
import { type RunningTarget, startTarget } from "./process.ts";
import { TARGETS } from "./targets.ts";

const flags = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=") as [string, string | undefined]));
const smoke = flags.has("smoke");
const conns = Number(flags.get("conns") ?? (smoke ? 100 : 1000));
const rounds = Number(flags.get("rounds") ?? (smoke ? 2 : 3));
const settleMs = Number(flags.get("settle") ?? (smoke ? 300 : 1000));
const restMs = Number(flags.get("rest") ?? (smoke ? 1000 : 10_000));
const only = flags.get("only")?.split(",") ?? ["tether-deno", "raw-deno", "tether-bun", "raw-bun"];

/** One reading after a phase. */
interface Reading {
  target: string;
  phase: string;
  connections: number;
  rssMb: number;
  heapMb: number;
  heapTotalMb: number;
}

/** Runs a full GC in the target and reads its RSS and the heap size it prints. */
async function read(target: RunningTarget): Promise<{ rss: number; heap: number; heapTotal: number }> {
  await pause(settleMs);
  const printed = target.output().length;
  process.kill(target.pid, "SIGUSR2");
  const deadline = Date.now() + 10_000;
  let match: RegExpExecArray | null = null;
  while (match === null && Date.now() < deadline) {
    await pause(20);
    match = /HEAP (\d+) (\d+)/.exec(target.output().slice(printed));
  }
  if (match === null) throw new Error(`The target printed no heap size within 10 s`);
  await pause(settleMs / 2);
  return { rss: rssOf(target.pid), heap: Number(match[1]), heapTotal: Number(match[2]) };
}

const readings: Reading[] = [];
for (const id of only) {
  const spec = TARGETS.find((t) => t.id === id);
  if (spec === undefined) throw new Error(`Unknown target "${id}"`);
  const driver = DRIVERS[spec.driver];
  const target = await startTarget(spec);
  const record = async (phase: string, connections: number) => {
    const { rss, heap, heapTotal } = await read(target);
    const reading = { target: id, phase, connections, rssMb: rss / 1048576, heapMb: heap / 1048576, heapTotalMb: heapTotal / 1048576 };
    readings.push(reading);
    console.log(JSON.stringify(reading));
  };
  try {
    await record("start", 0);
    for (let round = 1; round <= rounds; round++) {
      const links = await connectMany(driver, target.port, conns, 100);
      await subscribeAll(driver, links, 60_000);
      await record(`round ${round}: ${conns} open`, conns);
      closeAll(links);
      const deadline = Date.now() + 30_000;
      while (links.some((l) => !l.closed) && Date.now() < deadline) await pause(20);
      await record(`round ${round}: all closed`, 0);
    }
    await pause(restMs);
    await record(`${restMs / 1000} s later`, 0);
  } finally {
    await target.stop();
  }
}

const fmt = (n: number) => n.toFixed(1);
console.log(`\nChurn: ${conns} idle subscribed connections opened and closed, ${rounds} rounds; full GC before each reading.\n`);
console.log("| Target | phase | RSS MB | JS heap used MB | JS heap held MB |\n| --- | --- | --- | --- | --- |");
for (const r of readings) console.log(`| ${TARGETS.find((t) => t.id === r.target)!.label} | ${r.phase} | ${fmt(r.rssMb)} | ${fmt(r.heapMb)} | ${fmt(r.heapTotalMb)} |`);
