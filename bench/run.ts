/**
 * `bun run bench` (in bench/) or `bun bench/run.ts`: starts every target as its own process on
 * 127.0.0.1, drives it from a separate load-generator process (Bun), stops it by its PID, repeats,
 * and prints a markdown report of medians and ratios plus one JSON line per figure.
 *
 * Flags: `--smoke` (tiny sizes, one repeat: proves it runs, says nothing about speed),
 * `--repeats=N` (default 3), `--seconds=S` measured per scenario (default 2),
 * `--only=id,id` (see targets.ts), `--scenarios=a,b` (only these scenarios, e.g. `memory`), `--http`
 * (add the HTTP transports: Tether's fallback, Socket.IO polling), `--out=FILE` (also write the report
 * there). `--idle[=N]` (idle.ts) and `--scaling` (scaling.ts) run those scenarios instead of the
 * default set; `--with-idle[=N]` runs the default set, then the idle scenario on the same targets,
 * into one report. `--pin` runs each target on CPU 0 and the load generator on CPU 1 (`taskset`; Linux,
 * 2 cores or more): each has a core of its own, which steadies the CPU per call on a 2-core machine.
 * Exits 1 when a scenario failed or lost anything.
 * @module
 */
import { writeFileSync } from "node:fs";
import { measureBundles } from "./bundle.ts";
import { DRIVERS } from "./load/drivers.ts";
import type { GeneratorJob } from "./load/generator.ts";
import { buildNodeTargets, runGenerator, startTarget } from "./process.ts";
import { figures, goals, jsonLines, markdown, type Sample, type Scenario } from "./report.ts";
import { TARGETS } from "./targets.ts";

const flags = new Map(process.argv.slice(2).map((a) => {
  const [key, value] = a.replace(/^--/, "").split("=");
  return [key!, value ?? "true"] as const;
}));
const smoke = flags.has("smoke");
// The idle and scaling scenarios are long runs of their own, instead of the default set.
if (flags.has("idle") || flags.has("scaling")) {
  const sections = [
    ...flags.has("idle") ? [await (await import("./idle.ts")).idleSection(flags, smoke)] : [],
    ...flags.has("scaling") ? [await (await import("./scaling.ts")).scalingSection(flags, smoke)] : [],
  ];
  const text = sections.map((s) => s.markdown).join("\n");
  console.log(text);
  for (const s of sections) for (const line of s.json) console.log(line);
  if (flags.has("out")) writeFileSync(flags.get("out")!, text);
  const problems = sections.flatMap((s) => s.problems);
  if (problems.length > 0) console.error(`\n${problems.length} problem(s):\n${problems.join("\n")}`);
  process.exit(problems.length > 0 ? 1 : 0);
}
const repeats = Number(flags.get("repeats") ?? (smoke ? 1 : 3));
const measureMs = Math.round(Number(flags.get("seconds") ?? (smoke ? 0.3 : 2)) * 1000);
const only = flags.get("only")?.split(",");
const scenarioFilter = flags.get("scenarios")?.split(",");
/** Whether a scenario runs (all of them unless `--scenarios=` names some). */
const runs = (scenario: Scenario) => scenarioFilter === undefined || scenarioFilter.includes(scenario);
// The idle scenario's floor is never driven by the default set, even when named.
const targets = TARGETS.filter((t) => !t.idleFloor && (only === undefined ? !t.optIn || flags.has("http") : only.includes(t.id)));
if (targets.length === 0) {
  const floors = TARGETS.filter((t) => t.idleFloor && only?.includes(t.id)).map((t) => t.id);
  throw new RangeError(floors.length > 0
    ? `${floors.join(", ")}: held only by the idle scenario; run it with --idle`
    : `No target matches --only=${flags.get("only")}; ids: ${TARGETS.map((t) => t.id).join(", ")}`);
}

/** Scenario sizes: the in a full run, small ones in a smoke run. */
const sizes = smoke
  ? { warmupMs: 100, conns: 10, depth: 4, subs: 50, window: 8, idle: 100 }
  : { warmupMs: 500, conns: 50, depth: 16, subs: 1000, window: 32, idle: 5000 };

const samples = new Map<string, Map<Scenario, Sample[]>>();
const failures: string[] = [];
const started = Date.now();
/** With `--pin`: the commands that run a target on CPU 0 and the generator on CPU 1. */
const pin = flags.has("pin") ? { target: ["taskset", "-c", "0"], generator: ["taskset", "-c", "1"] } : { target: [], generator: [] };

/** Runs scenarios against one fresh process of a target. */
async function session(target: (typeof TARGETS)[number], scenarios: Scenario[]): Promise<void> {
  let running;
  try {
    running = await startTarget(target, pin.target);
  } catch (error) {
    failures.push(`${target.id}: ${(error as Error).message}`);
    return;
  }
  try {
    for (const scenario of scenarios) {
      const job: GeneratorJob = { scenario, driver: target.driver, port: running.port, pid: running.pid, measureMs, ...sizes };
      // The memory scenario opens 15,001 connections and reads RSS after four full GCs: twice the time.
      const sample = await runGenerator(job, scenario === "memory" ? 240_000 : 120_000, pin.generator);
      const line = `${target.id} ${scenario}: ${JSON.stringify(sample)}`;
      console.error(line);
      if (typeof sample.failed === "string") failures.push(line);
      else if (Number(sample.lost) > 0 || Number(sample.disconnected) > 0) failures.push(`lost: ${line}`);
      else if (scenario.startsWith("fanout-") && Number(sample.errors) > 0) failures.push(`sent back to the sender: ${line}`);
      if (typeof sample.failed !== "string") {
        const byScenario = samples.get(target.id) ?? new Map<Scenario, Sample[]>();
        samples.set(target.id, byScenario);
        byScenario.set(scenario, [...byScenario.get(scenario) ?? [], sample]);
      }
    }
  } finally {
    await running.stop();
  }
}

const nodeFiles = [...new Set(targets.filter((t) => t.runtime === "node").map((t) => t.file))];
if (nodeFiles.length > 0) await buildNodeTargets(nodeFiles);
// Round-robin over targets within each repeat, so drift on a shared machine hits every target alike.
for (let r = 1; r <= repeats; r++) {
  console.error(`== repeat ${r} of ${repeats}`);
  for (const target of targets) {
    // Targets that can publish to all but the sender (Tether) also fan out from a subscriber.
    const allButSender: Scenario[] = DRIVERS[target.driver].allButSender === undefined ? [] : ["fanout-client", "fanout-broadcast"];
    const load = (["throughput", "latency", "fanout", ...allButSender] as Scenario[]).filter(runs);
    if (load.length > 0) await session(target, load);
    // Memory in a fresh process, so garbage from the load scenarios does not count as connections.
    if (runs("memory")) await session(target, ["memory"]);
  }
}
const bundles = only === undefined || flags.has("bundle") ? await measureBundles() : [];
// One run for every figure: the idle scenario after the default set, on the targets it knows (raw Bun with its floor).
const holds = ["tether-bun", "raw-bun", "raw-bun-beat", "tether-deno", "raw-deno"]
  .filter((id) => targets.some((t) => t.id === (id === "raw-bun-beat" ? "raw-bun" : id)) || only?.includes(id));
const idle = flags.has("with-idle") && holds.length > 0 ? await (await import("./idle.ts")).idleSection(idleFlags(), smoke) : undefined;

/** The idle section's flags: `--with-idle`'s count (if given) and the targets of this run it can hold. */
function idleFlags(): Map<string, string> {
  const count = flags.get("with-idle")!;
  return new Map([...flags, ["only", holds.join(",")], ...count === "true" ? [] : [["idle", count] as const]]);
}

const all = figures(samples);
const gs = goals(all, bundles);
const header = [
  `Run: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ${smoke ? "SMOKE (sizes too small to mean anything)" : "full"}, ` +
  `${repeats} repeat(s) (medians), ${measureMs / 1000} s measured per scenario, ${Math.round((Date.now() - started) / 1000)} s in all.`,
  `Sizes: ${sizes.conns} connections × ${sizes.depth} in flight; ${sizes.subs} subscribers, ${sizes.window} messages in flight; idle connections in batches of ${sizes.idle} (memory: three).`,
  "",
].join("\n");
const report = header + "\n" + markdown(all, bundles, gs) + (idle === undefined ? "" : "\n" + idle.markdown);
console.log(report);
for (const line of [...jsonLines(all, bundles), ...idle?.json ?? []]) console.log(line);
failures.push(...idle?.problems ?? []);
if (flags.has("out")) writeFileSync(flags.get("out")!, report + "\n");
if (failures.length > 0) {
  console.error(`\n${failures.length} problem(s):\n${failures.join("\n")}`);
  process.exit(1);
}
