/**
 * Memory: server RSS per idle subscribed connection, after a full GC at every reading.
 *
 * A fresh process's first connections pay what is not per connection: on Bun the JIT compilers' code
 * paged in from the binary and the code they compile (about a third of Tether's first figure; see
 * BENCHMARKS.md, "Item 4"), on every runtime its tables' first growth and its allocators' first pools.
 * So RSS is read at `idle`, `2 × idle` and `3 × idle` connections, all open at once, and:
 * - `value`: the slope from `idle` to `3 × idle` connections, per connection: what each further idle
 *   subscribed connection holds once the process is warm;
 * - `cold`: the first `idle`'s growth / `idle` (one-time costs included);
 * - `oneTimeMb`: the intercept, what the first `idle` grew by beyond `idle × value`;
 * - `next`: the second `idle`'s growth / `idle`.
 * (Closing a warm-up batch instead would let the next connections reuse memory the process kept, at no
 * RSS cost: Deno's first 5,000 after one measured 9 KB each against 14 KB for the 5,000 after those.)
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

/** Runs the scenario; `value` is KB per connection once the process is warm (see the module doc). */
export async function memory(driver: Driver, o: MemoryOptions) {
  const kb = (bytes: number, count: number) => bytes / count / 1024;
  const first = await connect(driver, o.port);
  await subscribeAll(driver, [first]);
  const fresh = await settledRss(o.pid, o.settleMs);
  const batches: Link[][] = [];
  const rss: number[] = [];
  for (let i = 0; i < 3; i++) {
    batches.push(await openSubscribed(driver, o.port, o.idle));
    rss.push(await settledRss(o.pid, o.settleMs));
  }
  const [one, two, three] = rss as [number, number, number];
  const disconnected = batches.flat().filter((link) => link.closed).length;
  closeAll([first, ...batches.flat()]);
  const value = kb(three - one, 2 * o.idle);
  return {
    value,
    cold: kb(one - fresh, o.idle),
    next: kb(two - one, o.idle),
    oneTimeMb: (one - fresh - value * 1024 * o.idle) / 1048576,
    rssFreshMb: fresh / 1048576,
    rssAfterMb: three / 1048576,
    lost: disconnected,
    errors: 0,
    generatorCpu: 0,
    targetCpu: 0,
  };
}
