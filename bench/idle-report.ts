/**
 * The idle scenario's report (bench/idle.ts): one target's figures, the goals met or missed,
 * each Tether target beside its runtime's floor, and the markdown table.
 * @module
 */
import { TARGETS } from "./targets.ts";

/** One target's figures. */
export interface IdleResult {
  target: string;
  conns: number;
  /** The server's CPU over the held window, in % of one core. */
  cpuPercent: number;
  /** The part of {@link cpuPercent} spent in the kernel (system time; the rest is user time). */
  systemPercent: number;
  /** (RSS with every connection held − RSS before), after a full GC each, per connection. */
  kbPerConn: number;
  /** Heartbeat frames the generators received from the server (beats, pings, pongs), setup included. */
  pings: number;
  /** Heartbeat frames the generators sent unasked, as the target's client does (Tether: its beats and latency pings). */
  beats: number;
  /** Connections the server closed, or whose client declared the server dead, while held (must be 0). */
  lost: number;
  /** How they were lost: the server's close code, or `client: heartbeat timeout` -> count. */
  closeCodes: Record<string, number>;
  /** The generators' CPU while holding, in % of one core, all together. */
  generatorCpuPercent: number;
  /** Seconds it took to open and subscribe every connection. */
  setupSeconds: number;
}

/** The goals for the idle scenario, met or missed, one line each. */
export function idleGoals(results: IdleResult[]): { goal: string; target: string; actual: string; met: boolean }[] {
  const out: { goal: string; target: string; actual: string; met: boolean }[] = [];
  for (const r of results) {
    const spec = TARGETS.find((t) => t.id === r.target)!;
    if (spec.kind !== "tether") continue;
    const raw = results.find((x) => x.target === spec.limit);
    if (raw !== undefined && raw.cpuPercent > 0) {
      const ratio = r.cpuPercent / raw.cpuPercent;
      out.push({ goal: "idle CPU ≤ 1.5× raw", target: spec.label, actual: `${ratio.toFixed(2)}×`, met: ratio <= 1.5 });
    }
    if (spec.runtime === "bun") out.push({ goal: "idle CPU < 2% of a core", target: spec.label, actual: `${r.cpuPercent.toFixed(2)}%`, met: r.cpuPercent < 2 });
  }
  return out;
}

/**
 * Each Tether target beside its runtime's floor (targets.ts `idleFloor`: the raw echo with the same
 * heartbeat frames and nothing else), where both were held: what Tether adds to the heartbeat's own cost.
 */
function floorLines(results: IdleResult[]): string[] {
  const specOf = (r: IdleResult) => TARGETS.find((t) => t.id === r.target)!;
  const lines: string[] = [];
  for (const r of results.filter((x) => specOf(x).kind === "tether")) {
    const floor = results.find((x) => specOf(x).idleFloor === true && specOf(x).runtime === specOf(r).runtime);
    if (floor === undefined || floor.cpuPercent <= 0) continue;
    lines.push(`${specOf(r).label}: **${(r.cpuPercent / floor.cpuPercent).toFixed(2)}×** the CPU of ${specOf(floor).label} (the same heartbeat frames on a server that does nothing else).`);
  }
  return lines.length === 0 ? [] : ["", ...lines];
}

/** Connections lost while held, with their close codes: `0`, or `120 (4000: 100, 1006: 20)`. */
export function lostText(r: IdleResult): string {
  const codes = Object.entries(r.closeCodes).map(([code, n]) => `${code}: ${n}`).join(", ");
  return codes === "" ? String(r.lost) : `${r.lost} (${codes})`;
}

/** The markdown table of the idle scenario and its goals. */
export function idleMarkdown(results: IdleResult[], notes: string[]): string {
  const label = (id: string) => TARGETS.find((t) => t.id === id)?.label ?? id;
  const limitOf = (id: string) => results.find((r) => r.target === TARGETS.find((t) => t.id === id)?.limit);
  const ratio = (a: number, b: number | undefined) => (b === undefined || b <= 0 ? "–" : `${(a / b).toFixed(2)}×`);
  const lines = [
    "### Many idle connections (subscribed, default heartbeats)",
    "",
    "| Target | connections | server CPU, % of a core (system) | CPU × raw | KB/conn | KB × raw | heartbeat frames in / out | lost (close codes) | generators' CPU | setup s |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...results.map((r) =>
      `| ${label(r.target)} | ${r.conns.toLocaleString("en-US")} | ${r.cpuPercent.toFixed(2)}% (${r.systemPercent.toFixed(2)}%) | ${ratio(r.cpuPercent, limitOf(r.target)?.cpuPercent)} | ` +
      `${r.kbPerConn.toFixed(1)} | ${ratio(r.kbPerConn, limitOf(r.target)?.kbPerConn)} | ${r.pings.toLocaleString("en-US")} / ${r.beats.toLocaleString("en-US")} | ${lostText(r)} | ${r.generatorCpuPercent.toFixed(1)}% | ${r.setupSeconds.toFixed(1)} |`
    ),
    "",
    ...notes.map((n) => `Note: ${n}.`),
    ...(notes.length > 0 ? [""] : []),
    "| Goal | Tether | Actual | Met |",
    "| --- | --- | --- | --- |",
    ...idleGoals(results).map((g) => `| ${g.goal} | ${g.target} | ${g.actual} | ${g.met ? "yes" : "**no**"} |`),
    ...floorLines(results),
  ];
  return lines.join("\n");
}
