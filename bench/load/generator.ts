/**
 * The load generator: one process per scenario run, driven by run.ts. Takes one JSON argument
 * (scenario, driver, port, target PID and the scenario's options) and prints one JSON line with the
 * figure, losses, errors and the CPU of both processes. Run on Bun for every target, so every
 * target is driven by the same client.
 * @module
 */
import { DRIVERS, type DriverName } from "./drivers.ts";
import { fanout } from "./fanout.ts";
import { hold, type HoldBeats } from "./hold.ts";
import { latency } from "./latency.ts";
import { memory } from "./memory.ts";
import { throughput } from "./throughput.ts";

/** The argument run.ts passes. */
export interface GeneratorJob {
  scenario: "throughput" | "latency" | "fanout" | "fanout-client" | "fanout-broadcast" | "memory" | "hold";
  driver: DriverName;
  port: number;
  pid: number;
  warmupMs: number;
  measureMs: number;
  conns: number;
  depth: number;
  subs: number;
  window: number;
  idle: number;
  /** Longest drain after a throughput or fan-out window (the scenario's default when absent). */
  drainMs?: number;
  /** The hold scenario's longest hold without SIGUSR1 (bench/idle.ts). */
  maxHoldMs?: number;
  /** How the hold scenario's clients beat (hold.ts). */
  beats?: HoldBeats;
}

const job = JSON.parse(process.argv[2] ?? "{}") as GeneratorJob;
const driver = DRIVERS[job.driver];
const run = () => {
  switch (job.scenario) {
    case "throughput":
      return throughput(driver, job);
    case "latency":
      return latency(driver, job);
    case "fanout":
      return fanout(driver, job);
    case "fanout-client":
      return fanout(driver, { ...job, from: "client" });
    case "fanout-broadcast":
      return fanout(driver, { ...job, from: "broadcast" });
    case "memory":
      return memory(driver, { ...job, settleMs: Math.max(300, job.warmupMs) });
    case "hold":
      return hold(driver, { ...job, maxHoldMs: job.maxHoldMs ?? 600_000 });
  }
};
try {
  console.log(JSON.stringify(await run()));
  process.exit(0);
} catch (error) {
  console.log(JSON.stringify({ failed: error instanceof Error ? error.message : String(error) }));
  process.exit(1);
}
