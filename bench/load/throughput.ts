/**
 * RPC throughput: `conns` connections each keep `depth` echo calls in flight; completed round trips
 * per second over the measured window, after a warm-up.
 * @module
 */
import { closeAll, connectMany } from "./connect.ts";
import type { Driver } from "./drivers.ts";
import { measureWindow, pause, startWindow } from "./meter.ts";

/** What the throughput scenario takes. */
export interface ThroughputOptions {
  port: number;
  pid: number;
  conns: number;
  depth: number;
  warmupMs: number;
  measureMs: number;
  /** Longest wait for the calls still in flight after the window. @default 3000 */
  drainMs?: number;
}

/** Runs the scenario; `lost` counts calls never answered (0 unless the target broke). */
export async function throughput(driver: Driver, o: ThroughputOptions) {
  const links = await connectMany(driver, o.port, o.conns);
  let running = true;
  let done = 0;
  let sent = 0;
  let unexpected = 0;
  let id = 0;
  for (const link of links) {
    link.onFrame = (frame) => {
      if (!driver.isReply(frame)) return void unexpected++;
      done++;
      if (running) (link.send(driver.call(++id)), sent++);
    };
    for (let i = 0; i < o.depth; i++) (link.send(driver.call(++id)), sent++);
  }
  await pause(o.warmupMs);
  const before = done;
  const window = startWindow(o.pid);
  await measureWindow(o.measureMs, () => done);
  const measured = done - before;
  const usage = window.stop();
  running = false;
  const deadline = Date.now() + (o.drainMs ?? 3000);
  while (done + unexpected < sent && Date.now() < deadline) await pause(10);
  closeAll(links);
  return {
    value: measured / usage.seconds,
    lost: sent - done - unexpected,
    errors: unexpected,
    generatorCpu: usage.generatorCpu,
    targetCpu: usage.targetCpu,
  };
}
