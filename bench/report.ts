/**
 * Turns repeated samples into figures (medians), ratios to the runtime's raw echo (the limit) and to
 * the best peer, the issue's targets with met / missed, a markdown report and one JSON line per figure.
 * @module
 */
import type { BundleSize } from "./bundle.ts";
import { TARGETS, type Target } from "./targets.ts";

/** What one load-generator run printed. */
export type Sample = Record<string, number | string>;

/** Scenarios measured against a running target. */
export type Scenario = "throughput" | "latency" | "fanout" | "fanout-client" | "fanout-broadcast" | "memory";

/** One reported number. */
export interface Figure {
  target: string;
  metric: "rpc_throughput" | "rpc_latency_p50" | "rpc_latency_p99" | "fanout" | "fanout_client" | "fanout_broadcast" | "memory_per_conn" | "memory_per_conn_cold" | "memory_per_conn_next" | "memory_one_time";
  unit: string;
  /** Median over the repeats. */
  value: number;
  /** Higher is better (throughput, fan-out) or lower (latency, memory). */
  better: "higher" | "lower";
  /** value / the raw echo of the same runtime (Node peers: Bun's raw echo). */
  vsLimit: number | null;
  /** value / the best peer on the same runtime (on any runtime for Deno, which has no peer). */
  vsBestPeer: number | null;
  /** Calls never answered, deliveries never made, or connections dropped: the worst repeat. */
  lost: number;
  /** Median server CPU microseconds per operation (robust on a busy machine). */
  cpuPerOp: number | null;
  /** Median CPU of the load generator in cores; near 1 it was the bottleneck. */
  generatorCpu: number;
  repeats: number;
}

const METRICS: { scenario: Scenario; metric: Figure["metric"]; field: string; unit: string; better: Figure["better"] }[] = [
  { scenario: "throughput", metric: "rpc_throughput", field: "value", unit: "calls/s", better: "higher" },
  { scenario: "latency", metric: "rpc_latency_p50", field: "value", unit: "µs", better: "lower" },
  { scenario: "latency", metric: "rpc_latency_p99", field: "p99", unit: "µs", better: "lower" },
  { scenario: "fanout", metric: "fanout", field: "value", unit: "deliveries/s", better: "higher" },
  { scenario: "fanout-client", metric: "fanout_client", field: "value", unit: "deliveries/s", better: "higher" },
  { scenario: "fanout-broadcast", metric: "fanout_broadcast", field: "value", unit: "deliveries/s", better: "higher" },
  { scenario: "memory", metric: "memory_per_conn", field: "value", unit: "KB/conn", better: "lower" },
  { scenario: "memory", metric: "memory_per_conn_cold", field: "cold", unit: "KB/conn", better: "lower" },
  { scenario: "memory", metric: "memory_per_conn_next", field: "next", unit: "KB/conn", better: "lower" },
  { scenario: "memory", metric: "memory_one_time", field: "oneTimeMb", unit: "MB", better: "lower" },
];

/** The median of some numbers (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const num = (sample: Sample, field: string) => (typeof sample[field] === "number" ? (sample[field] as number) : NaN);

/** Medians and ratios of every figure. `samples` maps target id -> scenario -> successful samples. */
export function figures(samples: Map<string, Map<Scenario, Sample[]>>): Figure[] {
  const raw: Figure[] = [];
  for (const target of TARGETS) {
    for (const m of METRICS) {
      const list = samples.get(target.id)?.get(m.scenario) ?? [];
      if (list.length === 0) continue;
      const value = median(list.map((s) => num(s, m.field)));
      const cpu = median(list.map((s) => num(s, "targetCpu")));
      raw.push({
        target: target.id,
        metric: m.metric,
        unit: m.unit,
        value,
        better: m.better,
        vsLimit: null,
        vsBestPeer: null,
        lost: Math.max(...list.map((s) => num(s, "lost") + (num(s, "disconnected") || 0))),
        cpuPerOp: m.better === "higher" && value > 0 ? (cpu / value) * 1e6 : null,
        generatorCpu: median(list.map((s) => num(s, "generatorCpu"))),
        repeats: list.length,
      });
    }
  }
  const find = (id: string, metric: string) => raw.find((f) => f.target === id && f.metric === metric);
  for (const f of raw) {
    const target = TARGETS.find((t) => t.id === f.target)!;
    const limit = find(target.limit, f.metric);
    if (limit !== undefined && limit.value > 0) f.vsLimit = f.value / limit.value;
    const best = bestPeer(raw, target, f.metric);
    if (best !== undefined && best > 0 && target.kind !== "peer") f.vsBestPeer = f.value / best;
  }
  return raw;
}

/** The best peer figure on the target's runtime, or on any runtime when it has no peer. */
function bestPeer(all: Figure[], target: Target, metric: string): number | undefined {
  const peers = (runtime: string | undefined) =>
    all.filter((f) => f.metric === metric && TARGETS.some((t) => t.id === f.target && t.kind === "peer" && (runtime === undefined || t.runtime === runtime)));
  const list = peers(target.runtime).length > 0 ? peers(target.runtime) : peers(undefined);
  if (list.length === 0) return undefined;
  const values = list.map((f) => f.value);
  return list[0]!.better === "higher" ? Math.max(...values) : Math.min(...values);
}

/** One issue target, checked against a figure. */
export interface Goal {
  goal: string;
  target: string;
  actual: string;
  met: boolean | null;
}

/** The issue's targets for each Tether runtime measured, and the bundle budget. */
export function goals(all: Figure[], bundles: BundleSize[]): Goal[] {
  const out: Goal[] = [];
  const x = (n: number | null) => (n === null ? "n/a" : `${n.toFixed(2)}×`);
  for (const target of TARGETS.filter((t) => t.kind === "tether")) {
    const f = (metric: string) => all.find((g) => g.target === target.id && g.metric === metric);
    const add = (goal: string, figure: Figure | undefined, ratio: "vsLimit" | "vsBestPeer", ok: (r: number) => boolean, extra = true) => {
      if (figure === undefined) return;
      const r = figure[ratio];
      out.push({ goal, target: target.label, actual: x(r), met: r === null ? null : ok(r) && extra });
    };
    add("RPC throughput ≥ 0.7× raw", f("rpc_throughput"), "vsLimit", (r) => r >= 0.7);
    add("RPC throughput ≥ 1.5× best peer", f("rpc_throughput"), "vsBestPeer", (r) => r >= 1.5);
    add("p99 latency ≤ 1.3× raw", f("rpc_latency_p99"), "vsLimit", (r) => r <= 1.3);
    const fan = f("fanout");
    add("fan-out ≥ 0.8× raw, zero loss", fan, "vsLimit", (r) => r >= 0.8, fan?.lost === 0);
    for (const [metric, what] of [["fanout_client", "client publish"], ["fanout_broadcast", "ctx.broadcast"]] as const) {
      const all = f(metric);
      if (all === undefined || fan === undefined) continue;
      const r = all.value / fan.value;
      out.push({ goal: `${what} fan-out ≥ 0.8× server publish, zero loss`, target: target.label, actual: x(r), met: r >= 0.8 && all.lost === 0 });
    }
    add("idle memory per connection (warm process) ≤ 1.5× raw", f("memory_per_conn"), "vsLimit", (r) => r <= 1.5);
    const memory = f("memory_per_conn");
    // The issue's absolute bound is Bun's WebSocket sessions (raw Deno alone holds ~20 KB per socket;
    // an HTTP fallback session is not a WebSocket).
    if (memory !== undefined && target.runtime === "bun" && target.driver === "tether") out.push({ goal: "idle memory per connection (warm process) ≤ 3 KB", target: target.label, actual: `${memory.value.toFixed(1)} KB`, met: memory.value <= 3 });
  }
  const ours = bundles.find((b) => b.kind === "tether");
  if (ours !== undefined) {
    out.push({ goal: "client bundle < 8 KB gzipped", target: "browser client", actual: `${(ours.gzipped / 1024).toFixed(1)} KB`, met: ours.gzipped < 8192 });
  }
  return out;
}

const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(1));
const ratio = (n: number | null) => (n === null ? "–" : `${n.toFixed(2)}×`);
const gen = (f: Figure) => `${Math.round(f.generatorCpu * 100)}%${f.generatorCpu >= 0.9 ? " ⚠" : ""}`;

/** The markdown report: one table per scenario, the bundle table and the goals. */
export function markdown(all: Figure[], bundles: BundleSize[], gs: Goal[]): string {
  const label = (id: string) => TARGETS.find((t) => t.id === id)?.label ?? id;
  const rows = (metric: string) => all.filter((f) => f.metric === metric);
  const lines: string[] = [];
  const table = (title: string, head: string[], body: string[][]) => {
    if (body.length === 0) return;
    lines.push(`### ${title}`, "", `| ${head.join(" | ")} |`, `|${head.map(() => " --- ").join("|")}|`);
    for (const r of body) lines.push(`| ${r.join(" | ")} |`);
    lines.push("");
  };
  lines.push("Ratios: × raw is the figure over the raw echo of the same runtime (Node peers: over raw Bun); × best peer is over the best of Socket.IO and tRPC on the same runtime (for Deno, which has no peer here, on any runtime). " +
    "Generator CPU is the load generator's CPU in cores; ⚠ marks ≥ 90%: the generator was the bottleneck and the server was not pushed to its limit.", "");
  // Server CPU per operation leads: unlike the rate, it holds where the load generator is the limit.
  table("RPC throughput (connections × calls in flight: see Sizes)", ["Target", "server CPU µs/call", "calls/s", "× raw", "× best peer", "generator CPU"],
    rows("rpc_throughput").map((f) => [label(f.target), fmt(f.cpuPerOp ?? 0), fmt(f.value), ratio(f.vsLimit), ratio(f.vsBestPeer), gen(f)]));
  const p50 = rows("rpc_latency_p50");
  table("RPC latency (one connection, one call at a time)", ["Target", "p50 µs", "p99 µs", "p99 × raw", "p99 × best peer"],
    rows("rpc_latency_p99").map((f) => [label(f.target), fmt(p50.find((p) => p.target === f.target)?.value ?? NaN), fmt(f.value), ratio(f.vsLimit), ratio(f.vsBestPeer)]));
  table("Fan-out (subscribers on one topic: see Sizes)", ["Target", "server CPU µs/delivery", "deliveries/s", "lost", "× raw", "× best peer", "generator CPU"],
    rows("fanout").map((f) => [label(f.target), (f.cpuPerOp ?? 0).toFixed(2), fmt(f.value), String(f.lost), ratio(f.vsLimit), ratio(f.vsBestPeer), gen(f)]));
  const serverPublish = (f: Figure) => rows("fanout").find((s) => s.target === f.target);
  table(
    "All-but-sender fan-out (the publisher subscribes too; the same subscribers receive)",
    ["Target", "sent by", "server CPU µs/delivery", "CPU × server publish", "deliveries/s", "× server publish", "lost", "generator CPU"],
    [...rows("fanout_client"), ...rows("fanout_broadcast")].map((f) => {
      const s = serverPublish(f);
      const cpu = s?.cpuPerOp && f.cpuPerOp !== null ? ratio(f.cpuPerOp / s.cpuPerOp) : "–";
      const by = f.metric === "fanout_client" ? "client `publish` frame" : "`ctx.broadcast` in a call";
      return [label(f.target), by, (f.cpuPerOp ?? 0).toFixed(2), cpu, fmt(f.value), s ? ratio(f.value / s.value) : "–", String(f.lost), gen(f)];
    }),
  );
  const of = (metric: string, f: Figure) => rows(metric).find((n) => n.target === f.target);
  table(
    "Memory (server RSS per idle subscribed connection, after a full GC; warm: the slope over three batches all open at once, from the first batch's end to the third's; " +
      "cold: a fresh process's first batch, one-time costs included; one-time: the first batch's growth beyond the slope; next: the second batch alone)",
    ["Target", "warm KB/conn", "× raw", "× best peer", "cold KB/conn", "cold × raw", "one-time MB", "next KB/conn", "next × raw"],
    rows("memory_per_conn").map((f) => {
      const cold = of("memory_per_conn_cold", f), next = of("memory_per_conn_next", f);
      return [label(f.target), fmt(f.value), ratio(f.vsLimit), ratio(f.vsBestPeer), fmt(cold?.value ?? NaN), ratio(cold?.vsLimit ?? null),
        fmt(of("memory_one_time", f)?.value ?? NaN), fmt(next?.value ?? NaN), ratio(next?.vsLimit ?? null)];
    }),
  );
  const bestBundle = Math.min(...bundles.filter((b) => b.kind === "peer").map((b) => b.gzipped));
  table("Client bundle (esbuild, browser, minified; gzip -9)", ["Client", "minified", "gzipped", "× best peer"],
    bundles.map((b) => [b.label, `${(b.minified / 1024).toFixed(1)} KB`, `${(b.gzipped / 1024).toFixed(1)} KB`, b.kind === "tether" ? ratio(b.gzipped / bestBundle) : "–"]));
  const ours = bundles.find((b) => b.kind === "tether");
  if (ours !== undefined) {
    const share = (bytes: number) => Math.round((bytes / ours.minified) * 100);
    lines.push(`Largest parts of our client (minified): ${ours.top.map((t) => `${t.path} ${(t.bytes / 1024).toFixed(1)} KB (${share(t.bytes)}%)`).join(", ")}.`, "");
  }
  table("Targets", ["Goal", "Tether", "Actual", "Met"], gs.map((g) => [g.goal, g.target, g.actual, g.met === null ? "n/a" : g.met ? "yes" : "**no**"]));
  return lines.join("\n");
}

/** One JSON line per figure (and per client bundle). */
export function jsonLines(all: Figure[], bundles: BundleSize[]): string[] {
  return [
    ...all.map((f) => JSON.stringify(f)),
    ...bundles.map((b) => JSON.stringify({ target: b.id, metric: "client_bundle", unit: "bytes gzip", value: b.gzipped, minified: b.minified })),
  ];
}
