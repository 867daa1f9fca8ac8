/**
 * How cost grows (`bun bench/run.ts --scaling`): RPC throughput and server CPU per call at 50, 500
 * and 5,000 connections (800 calls in flight in all, as in the default run: 16, 2 and 1 on each); fan-out and server CPU per delivery at 1,000,
 * 5,000 and 10,000 subscribers; and fan-out across 1, 2 and 4 Tether instances on Redis
 * (bench/redis-fanout.ts, 300 subscribers, 500 messages: a burst of 2,000 publishes failed with "the
 * broker is unavailable" on a loaded 2-core machine). One fresh process per target, the sizes in order, one run each. Prints
 * tables, and writes one SVG line chart per curve (chart.ts) into `--charts=DIR` (default
 * docs/bench in a full run; none in a smoke run unless asked).
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { lineChart, type Series } from "./chart.ts";
import type { Section } from "./idle.ts";
import { BENCH_DIR, runGenerator, startTarget } from "./process.ts";
import { TARGETS } from "./targets.ts";

/**
 * Calls and deliveries in flight in all, the same at every size (the default run's: 50 connections
 * × 16 calls, 32 messages × 1,000 subscribers), so the curves show what more connections cost, not
 * more work queued in the server.
 */
const IN_FLIGHT = { full: { calls: 800, deliveries: 32_000 }, smoke: { calls: 80, deliveries: 640 } };

/** Per connection (or per message) share of a total in flight, at least 1. */
const inFlight = (total: number, size: number) => Math.max(1, Math.round(total / size));

/** One measured point of a curve. */
export interface Point {
  target: string;
  scenario: "throughput" | "fanout";
  size: number;
  /** Calls in flight on each connection, or messages in flight. */
  inFlight: number;
  /** Calls/s or deliveries/s. */
  rate: number;
  /** µs of server CPU per call or per delivery. */
  cpuPerOp: number;
  generatorCpu: number;
  lost: number;
}

/** One Redis fan-out run, as bench/redis-fanout.ts prints it. */
export interface RedisRun {
  instances: number;
  subscribers: number;
  messages: number;
  delivered: number;
  seconds: number;
  deliveriesPerSecond: number;
}

const label = (id: string) => TARGETS.find((t) => t.id === id)?.label ?? id;
const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(2));
const gen = (cpu: number) => `${Math.round(cpu * 100)}%${cpu >= 0.9 ? " ⚠" : ""}`;

/** Runs bench/redis-fanout.ts for the instance counts and returns its JSON lines. */
function redisRuns(counts: number[], smoke: boolean, problems: string[]): RedisRun[] {
  const run = spawnSync(join(BENCH_DIR, "..", "node_modules", ".bin", "bun"), [join(BENCH_DIR, "redis-fanout.ts"), `--instances=${counts.join(",")}`, ...smoke ? ["--smoke"] : ["--messages=500"]], {
    cwd: join(BENCH_DIR, ".."),
    encoding: "utf8",
    // Killed after 4 minutes: the runs it finished still count, the missing ones are reported.
    timeout: 240_000,
  });
  if (run.status !== 0) problems.push(`redis-fanout.ts exited with ${run.status ?? run.signal}: ${run.stderr.slice(-500)}`);
  const runs = run.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as RedisRun);
  for (const r of runs) if (r.delivered !== r.subscribers * r.messages) problems.push(`Redis fan-out on ${r.instances} instance(s) lost ${r.subscribers * r.messages - r.delivered} deliveries`);
  return runs;
}

/** A curve per target from the points of one scenario. */
function curves(points: Point[], scenario: Point["scenario"], sizes: number[], pick: (p: Point) => number): Series[] {
  const ids = [...new Set(points.filter((p) => p.scenario === scenario).map((p) => p.target))];
  return ids.map((id) => ({
    name: label(id),
    values: sizes.map((size) => {
      const p = points.find((q) => q.target === id && q.scenario === scenario && q.size === size);
      return p === undefined ? NaN : pick(p);
    }),
  }));
}

/** Writes one SVG line chart per curve into `dir`; returns the file names. */
export function writeCharts(dir: string, points: Point[], redis: RedisRun[], sizes: { conns: number[]; subs: number[]; calls: number }): string[] {
  const { conns, subs, calls } = sizes;
  mkdirSync(dir, { recursive: true });
  const charts: Record<string, Parameters<typeof lineChart>[0]> = {
    "rpc-throughput.svg": { title: "RPC round trips per second", xLabel: `connections (${calls} calls in flight in all)`, yLabel: "calls/s", x: conns, series: curves(points, "throughput", conns, (p) => p.rate) },
    "rpc-cpu.svg": { title: "Server CPU per RPC call", xLabel: `connections (${calls} calls in flight in all)`, yLabel: "µs of server CPU per call", x: conns, series: curves(points, "throughput", conns, (p) => p.cpuPerOp) },
    "fanout.svg": { title: "Fan-out deliveries per second", xLabel: "subscribers on one topic", yLabel: "deliveries/s", x: subs, series: curves(points, "fanout", subs, (p) => p.rate) },
    "fanout-cpu.svg": { title: "Server CPU per fan-out delivery", xLabel: "subscribers on one topic", yLabel: "µs of server CPU per delivery", x: subs, series: curves(points, "fanout", subs, (p) => p.cpuPerOp) },
    "redis-fanout.svg": {
      title: "Fan-out across instances on one Redis",
      xLabel: "Tether instances (Bun)",
      yLabel: "deliveries/s",
      x: redis.map((r) => r.instances),
      series: [{ name: "Tether on Bun + Redis", values: redis.map((r) => r.deliveriesPerSecond) }],
    },
  };
  for (const [file, spec] of Object.entries(charts)) writeFileSync(join(dir, file), lineChart(spec));
  return Object.keys(charts);
}

/** Flags: `--only=` among the four Tether and raw targets, `--seconds=S` (default 2), `--charts=DIR`. */
export async function scalingSection(flags: Map<string, string>, smoke: boolean): Promise<Section> {
  const conns = smoke ? [5, 10, 20] : [50, 500, 5000];
  const subs = smoke ? [20, 40, 80] : [1000, 5000, 10_000];
  const instances = smoke ? [1, 2] : [1, 2, 4];
  const measureMs = Math.round(Number(flags.get("seconds") ?? (smoke ? 0.3 : 2)) * 1000);
  const warmupMs = smoke ? 100 : 500;
  const ids = flags.get("only")?.split(",") ?? ["tether-bun", "raw-bun", "tether-deno", "raw-deno"];
  const total = smoke ? IN_FLIGHT.smoke : IN_FLIGHT.full;
  const points: Point[] = [];
  const problems: string[] = [];
  for (const id of ids) {
    const spec = TARGETS.find((t) => t.id === id);
    if (spec === undefined) throw new RangeError(`Unknown target "${id}"`);
    const target = await startTarget(spec);
    try {
      const jobs = [
        ...conns.map((n) => ({ scenario: "throughput" as const, size: n, conns: n, subs: 0, depth: inFlight(total.calls, n), window: 32 })),
        ...subs.map((n) => ({ scenario: "fanout" as const, size: n, conns: 0, subs: n, depth: 16, window: inFlight(total.deliveries, n) })),
      ];
      for (const job of jobs) {
        const sample = await runGenerator({ ...job, driver: spec.driver, port: target.port, pid: target.pid, warmupMs, measureMs, idle: 0, drainMs: 60_000 }, 300_000);
        console.error(`${id} ${job.scenario} ${job.size}: ${JSON.stringify(sample)}`);
        if (typeof sample.failed === "string") {
          problems.push(`${id} ${job.scenario} at ${job.size}: ${sample.failed}`);
          continue;
        }
        const rate = Number(sample.value);
        const lost = Number(sample.lost) + (Number(sample.disconnected) || 0);
        if (lost > 0) problems.push(`${id} ${job.scenario} at ${job.size}: lost ${lost}`);
        points.push({ target: id, scenario: job.scenario, size: job.size, inFlight: job.scenario === "throughput" ? job.depth : job.window, rate, cpuPerOp: (Number(sample.targetCpu) / rate) * 1e6, generatorCpu: Number(sample.generatorCpu), lost });
      }
    } finally {
      await target.stop();
    }
  }
  const redis = redisRuns(instances, smoke, problems);

  const lines = [
    `Scaling: ${measureMs / 1000} s measured per size after ${warmupMs / 1000} s of warm-up, one run each, a fresh process per target; ⚠ marks a load generator at ≥ 90% of a core (the server was not pushed to its limit there).`,
    "",
    `### RPC throughput by connections (${total.calls} calls in flight in all)`,
    "",
    "| Target | connections | in flight each | server CPU µs/call | calls/s | generator CPU |",
    "| --- | --- | --- | --- | --- | --- |",
    ...points.filter((p) => p.scenario === "throughput").map((p) => `| ${label(p.target)} | ${p.size.toLocaleString("en-US")} | ${p.inFlight} | ${fmt(p.cpuPerOp)} | ${fmt(p.rate)} | ${gen(p.generatorCpu)} |`),
    "",
    `### Fan-out by subscribers (server publish, ${total.deliveries.toLocaleString("en-US")} deliveries in flight in all)`,
    "",
    "| Target | subscribers | messages in flight | server CPU µs/delivery | deliveries/s | lost | generator CPU |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...points.filter((p) => p.scenario === "fanout").map((p) => `| ${label(p.target)} | ${p.size.toLocaleString("en-US")} | ${p.inFlight} | ${fmt(p.cpuPerOp)} | ${fmt(p.rate)} | ${p.lost} | ${gen(p.generatorCpu)} |`),
    "",
    "### Fan-out across Tether instances on Redis (Bun, bench/redis-fanout.ts)",
    "",
    "| instances | subscribers | messages | delivered | seconds | deliveries/s |",
    "| --- | --- | --- | --- | --- | --- |",
    ...redis.map((r) => `| ${r.instances} | ${r.subscribers} | ${r.messages} | ${r.delivered === r.subscribers * r.messages ? "all" : `${r.delivered} of ${r.subscribers * r.messages}`} | ${r.seconds} | ${fmt(r.deliveriesPerSecond)} |`),
    "",
  ];

  const dir = flags.get("charts") ?? (smoke ? undefined : join(BENCH_DIR, "..", "docs", "bench"));
  if (dir !== undefined) lines.push(`Charts written to ${dir}: ${writeCharts(dir, points, redis, { conns, subs, calls: total.calls }).join(", ")}.`, "");
  return {
    markdown: lines.join("\n"),
    json: [...points.map((p) => JSON.stringify({ metric: `scaling_${p.scenario}`, ...p })), ...redis.map((r) => JSON.stringify({ metric: "scaling_redis", ...r }))],
    problems,
  };
}
