/**
 * The idle scenario (`bun bench/run.ts --idle`): many idle subscribed connections held for a while
 * with default heartbeats, Tether beside the raw echo of the same runtime. Per target, in a fresh
 * process: a full GC and its RSS; then several load-generator processes (`load/hold.ts`, at most
 * `perGenerator` sockets each) open and subscribe their share and keep the heartbeat as the target's client does; a full GC and
 * the RSS again; then the server's CPU over the held window, read from /proc/<pid>/stat.
 * A process may hold only as many sockets as its open-file limit allows: where the limit cannot be
 * raised (no CAP_SYS_RESOURCE), the count is cut to fit and the report says so.
 * @module
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import type { HoldBeats } from "./load/hold.ts";
import { cpuSecondsOf, cpuSplitOf, pause, rssOf } from "./load/meter.ts";
import { type GeneratorProcess, spawnGenerator, startTarget } from "./process.ts";
import { type IdleResult, idleMarkdown, lostText } from "./idle-report.ts";
import { TARGETS } from "./targets.ts";

/** What the idle scenario takes. */
export interface IdleOptions {
  /** Connections to hold. @default 20000 (200 in a smoke run) */
  conns: number;
  /** Seconds the server's CPU is measured over while they are held. @default 60 (1 in a smoke run) */
  holdSeconds: number;
  /** Target ids. @default tether-bun, raw-bun, raw-bun-beat, tether-deno, raw-deno */
  targets: string[];
  /** Sockets per load-generator process. @default 5000 */
  perGenerator: number;
  /** Milliseconds to wait after each GC, and before the held window. @default 1500 (300 in a smoke run) */
  settleMs: number;
  /** How the hold clients beat (load/hold.ts). @default "answer", as Tether's client does */
  beats?: HoldBeats;
  /** Whether Tether's server beats (a diagnostic: false sets its heartbeat interval beyond the held window). @default true */
  serverBeats?: boolean;
}

const LIMIT = 65_536;
/** File descriptors a target keeps for itself beyond the ones it had at start (listen socket, epoll, …). */
const MARGIN = 64;

/** `prlimit` as a prefix when this process may raise the open-file limit that far, else nothing. */
function raiseLimit(): string[] {
  const prefix = ["prlimit", `--nofile=${LIMIT}:${LIMIT}`];
  return spawnSync(prefix[0]!, [...prefix.slice(1), "true"]).status === 0 ? prefix : [];
}

/** A process's soft open-file limit and how many files it has open now. */
function files(pid: number): { limit: number; open: number } {
  const line = /Max open files\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, "utf8"));
  return { limit: Number(line?.[1] ?? LIMIT), open: readdirSync(`/proc/${pid}/fd`).length };
}

/** Runs a full GC in the target (targets/collect-on-signal.ts), then reads its RSS. */
async function settledRss(pid: number, ms: number): Promise<number> {
  process.kill(pid, "SIGUSR2");
  await pause(ms);
  return rssOf(pid);
}

/** Sums counts by key. */
function mergeCounts(counts: Record<string, number>[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const c of counts) for (const [key, n] of Object.entries(c)) sum[key] = (sum[key] ?? 0) + n;
  return sum;
}

/** Tells a generator to stop holding (it may have exited already). */
function release(generator: GeneratorProcess): void {
  try {
    process.kill(generator.pid, "SIGUSR1");
  } catch {
    // Already gone: its result says why.
  }
}

/** Waits until every generator printed `HOLDING`, or one of them exited (throws then, with its reason). */
async function holding(generators: GeneratorProcess[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  const results = generators.map((g) => g.result(ms + 600_000));
  let failed: Record<string, number | string> | undefined;
  for (const r of results) void r.then((out) => (failed ??= typeof out.failed === "string" ? out : undefined));
  while (generators.some((g) => !g.stdout().includes("HOLDING")) && Date.now() < deadline) {
    if (failed !== undefined) throw new Error(`A load generator stopped: ${failed.failed}`);
    await pause(100);
  }
  if (generators.some((g) => !g.stdout().includes("HOLDING"))) throw new Error(`Not every connection was open and subscribed after ${ms / 1000} s`);
}

/** Runs the scenario for every target; returns the figures and notes for the report. */
export async function runIdle(o: IdleOptions): Promise<{ results: IdleResult[]; notes: string[]; problems: string[] }> {
  const prefix = raiseLimit();
  const results: IdleResult[] = [];
  const notes: string[] = [];
  const problems: string[] = [];
  for (const id of o.targets) {
    const spec = TARGETS.find((t) => t.id === id);
    if (spec === undefined) throw new RangeError(`Unknown target "${id}"`);
    // Read by bench/targets/tether.ts: a diagnostic run without the server's beats.
    if (o.serverBeats === false) process.env.TETHER_BENCH_SERVER_BEATS = "off";
    else delete process.env.TETHER_BENCH_SERVER_BEATS;
    const target = await startTarget(spec, prefix);
    try {
      const fds = files(target.pid);
      const conns = Math.min(o.conns, fds.limit - fds.open - MARGIN);
      if (conns < o.conns) notes.push(`${id}: ${conns} connections, not ${o.conns}: its open-file limit is ${fds.limit} and cannot be raised here`);
      // Bun installs a signal handler a moment after the call: a SIGUSR2 right after READY would kill it.
      await pause(1000);
      const before = await settledRss(target.pid, o.settleMs);
      const setup = performance.now();
      const shares = Array.from({ length: Math.ceil(conns / o.perGenerator) }, (_, i) => Math.min(o.perGenerator, conns - i * o.perGenerator));
      const generators = shares.map((idle) => spawnGenerator({ scenario: "hold", driver: spec.driver, port: target.port, pid: target.pid, idle, maxHoldMs: (o.holdSeconds + 600) * 1000, beats: o.beats }));
      try {
        await holding(generators, 300_000);
      } catch (error) {
        for (const g of generators) release(g);
        throw error;
      }
      const setupSeconds = (performance.now() - setup) / 1000;
      const after = await settledRss(target.pid, o.settleMs);
      await pause(o.settleMs);
      const cpuFrom = cpuSplitOf(target.pid);
      const generatorsFrom = generators.reduce((sum, g) => sum + cpuSecondsOf(g.pid), 0);
      const wall = performance.now();
      await pause(o.holdSeconds * 1000);
      const seconds = (performance.now() - wall) / 1000;
      const cpuTo = cpuSplitOf(target.pid);
      // Each part's difference first: no ticks in the window gives exactly 0, never a rounding below it.
      const cpu = ((cpuTo.user - cpuFrom.user) + (cpuTo.system - cpuFrom.system)) / seconds;
      const generatorCpu = (generators.reduce((sum, g) => sum + cpuSecondsOf(g.pid), 0) - generatorsFrom) / seconds;
      for (const g of generators) release(g);
      const outs = await Promise.all(generators.map((g) => g.result(60_000)));
      const failed = outs.find((out) => typeof out.failed === "string");
      if (failed !== undefined) throw new Error(`${id}: a load generator failed: ${failed.failed}`);
      const result: IdleResult = {
        target: id,
        conns,
        cpuPercent: cpu * 100,
        systemPercent: (cpuTo.system - cpuFrom.system) / seconds * 100,
        kbPerConn: (after - before) / conns / 1024,
        pings: outs.reduce((sum, out) => sum + Number(out.pings), 0),
        beats: outs.reduce((sum, out) => sum + Number(out.beats ?? 0), 0),
        lost: outs.reduce((sum, out) => sum + Number(out.lost), 0),
        closeCodes: mergeCounts(outs.map((out) => JSON.parse(String(out.closeCodes ?? "{}")))),
        generatorCpuPercent: generatorCpu * 100,
        setupSeconds,
      };
      console.error(`${id} idle: ${JSON.stringify(result)}`);
      results.push(result);
    } catch (error) {
      problems.push(`${id}: ${(error as Error).message}`);
    } finally {
      await target.stop();
    }
  }
  return { results, notes, problems };
}

/** What a report section of run.ts holds: markdown, one JSON line per figure, and any problem. */
export interface Section {
  markdown: string;
  json: string[];
  problems: string[];
}

/** The `--hold-beats=` value (default "answer"); a RangeError for anything but timer, answer or silent. */
function holdBeatsOf(value: string | undefined): HoldBeats {
  if (value === undefined) return "answer";
  if (value === "timer" || value === "answer" || value === "silent") return value;
  throw new RangeError(`--hold-beats must be timer, answer or silent, not ${JSON.stringify(value)}`);
}

/**
 * `run.ts --idle[=N]`: N connections (default 20,000; 200 in a smoke run), `--hold=S` seconds
 * (default 60; 1 in a smoke run), `--only=` among the Tether and raw targets (raw-bun-beat: the floor). Diagnostics:
 * `--hold-beats=timer|answer|silent` (how the hold clients beat), `--server-beats=off` (Tether's
 * server sends no beat while held).
 */
export async function idleSection(flags: Map<string, string>, smoke: boolean): Promise<Section> {
  const asked = flags.get("idle");
  const conns = asked === undefined || asked === "true" ? (smoke ? 200 : 20_000) : Number(asked);
  const holdSeconds = Number(flags.get("hold") ?? (smoke ? 1 : 60));
  const targets = flags.get("only")?.split(",") ?? ["tether-bun", "raw-bun", "raw-bun-beat", "tether-deno", "raw-deno"];
  const { results, notes, problems } = await runIdle({ conns, holdSeconds, targets, perGenerator: smoke ? 100 : 5000, settleMs: smoke ? 300 : 1500,
    beats: holdBeatsOf(flags.get("hold-beats")),
    serverBeats: flags.get("server-beats") !== "off",
  });
  const diagnostics = [flags.has("hold-beats") ? `clients beat: ${flags.get("hold-beats")}` : "", flags.get("server-beats") === "off" ? "the server does not beat" : ""].filter(Boolean);
  const header = `Idle: ${conns.toLocaleString("en-US")} connections asked, held ${holdSeconds} s after a full GC; load generators of ${smoke ? 100 : 5000} sockets each` +
    `${diagnostics.length > 0 ? ` (diagnostic: ${diagnostics.join(", ")})` : ""}.`;
  return {
    markdown: `${header}\n\n${idleMarkdown(results, notes)}\n`,
    json: results.map((r) => JSON.stringify({ metric: "idle", ...r })),
    problems: [...problems, ...results.filter((r) => r.lost > 0).map((r) => `${r.target}: ${lostText(r)} idle connections closed by the server or declared dead by the client`)],
  };
}
