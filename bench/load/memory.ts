/**
 * Memory: server RSS per idle subscribed connection, after a full GC at every reading.
 *
 * A fresh process first pays one-time costs that are not per connection: on Bun the JIT compilers'
 * code paged in from the binary and the code they compile (about a third of Tether's first figure; see
 * BENCHMARKS.md, "Item 4"), on every runtime its tables' growth and its allocators' first pools. So the
 * scenario opens `idle` connections once as a warm-up (connected, subscribed, closed, collected), then
 * measures `2 × idle` opened after it, in two batches:
 * - `value`: (RSS with the `2 × idle` open − RSS after the warm-up closed) / `2 × idle`: what an idle
 *   subscribed connection holds once the process is warm (the tables' growth past the warm-up's size included);
 * - `cold`: the warm-up batch's own growth / `idle`: the first connections of a fresh process, one-time costs included;
 * - `next`: the second measured batch's growth / `idle`;
 * - `oneTimeMb`: what the warm-up batch's RSS grew by beyond `idle × value` (the process's one-time cost).
 * @module
 */
import { closeAll, connect, connectMany, type Link, subscribeAll } from "./connect.ts";
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

/** Opens `count` connections and subscribes each; resolves once all confirmed. */
async function openSubscribed(driver: Driver, port: number, count: number): Promise<Link[]> {
  const links = await connectMany(driver, port, count, 250);
  await subscribeAll(driver, links, 60_000);
  return links;
}

/** Closes the links and waits (20 s at most) until each saw its close, so the server has let go of them. */
async function closeAndWait(links: Link[]): Promise<void> {
  closeAll(links);
  const until = Date.now() + 20_000;
  while (links.some((link) => !link.closed) && Date.now() < until) await pause(50);
}

/** Runs the scenario; `value` is KB per connection once the process is warm (see the module doc). */
export async function memory(driver: Driver, o: MemoryOptions) {
  const kb = (bytes: number, count: number) => bytes / count / 1024;
  const first = await connect(driver, o.port);
  await subscribeAll(driver, [first]);
  const fresh = await settledRss(o.pid, o.settleMs);
  const warmUp = await openSubscribed(driver, o.port, o.idle);
  const cold = await settledRss(o.pid, o.settleMs);
  await closeAndWait(warmUp);
  const warm = await settledRss(o.pid, o.settleMs);
  const links = await openSubscribed(driver, o.port, o.idle);
  const half = await settledRss(o.pid, o.settleMs);
  const more = await openSubscribed(driver, o.port, o.idle);
  const after = await settledRss(o.pid, o.settleMs);
  const disconnected = [...links, ...more].filter((link) => link.closed).length;
  closeAll([first, ...links, ...more]);
  const value = kb(after - warm, 2 * o.idle);
  return {
    value,
    cold: kb(cold - fresh, o.idle),
    next: kb(after - half, o.idle),
    oneTimeMb: (cold - fresh - value * 1024 * o.idle) / 1048576,
    rssFreshMb: fresh / 1048576,
    rssWarmMb: warm / 1048576,
    rssAfterMb: after / 1048576,
    lost: disconnected,
    errors: 0,
    generatorCpu: 0,
    targetCpu: 0,
  };
}
