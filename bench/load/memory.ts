/**
 * Memory: server RSS per idle subscribed connection. RSS is read with one subscribed connection
 * open, then again after `idle` more connections have connected, subscribed and sat idle a moment
 * (`value`), and once more after another `idle` joined them (`next`: the cost of each connection
 * past the first `idle`, once the process's one-time costs are paid: on Bun the JIT compilers' code
 * and output, about a third of Tether's first figure; see BENCHMARKS.md, "Item 4").
 * @module
 */
import { closeAll, connect, connectMany, subscribeAll } from "./connect.ts";
import type { Driver } from "./drivers.ts";
import { pause, rssOf } from "./meter.ts";

/** Asks the target for a full collection (see targets/collect-on-signal.ts), then reads its RSS. */
async function settledRss(pid: number, ms: number): Promise<number> {
  await pause(ms);
  process.kill(pid, "SIGUSR2");
  await pause(ms);
  return rssOf(pid);
}

/** What the memory scenario takes. */
export interface MemoryOptions {
  port: number;
  pid: number;
  idle: number;
  settleMs: number;
}

/** Runs the scenario; `value` is KB per connection. */
export async function memory(driver: Driver, o: MemoryOptions) {
  const first = await connect(driver, o.port);
  await subscribeAll(driver, [first]);
  const before = await settledRss(o.pid, o.settleMs);
  const links = await connectMany(driver, o.port, o.idle, 250);
  await subscribeAll(driver, links, 60_000);
  const after = await settledRss(o.pid, o.settleMs);
  const more = await connectMany(driver, o.port, o.idle, 250);
  await subscribeAll(driver, more, 60_000);
  const next = await settledRss(o.pid, o.settleMs);
  const disconnected = [...links, ...more].filter((link) => link.closed).length;
  closeAll([first, ...links, ...more]);
  return {
    value: (after - before) / o.idle / 1024,
    next: (next - after) / o.idle / 1024,
    rssBeforeMb: before / 1048576,
    rssAfterMb: after / 1048576,
    lost: disconnected,
    errors: 0,
    generatorCpu: 0,
    targetCpu: 0,
  };
}
