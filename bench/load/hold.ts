/**
 * Hold: one load generator's share of the idle scenario (bench/idle.ts). Opens `idle` connections,
 * subscribes each to `feed`, prints `HOLDING <n>` and then only answers the server's heartbeat pings
 * (Tether's `{"type":"ping"}`; the runtimes' protocol pings are answered by Bun's client itself) until
 * it receives SIGUSR1. Several of these run at once so no single process holds every socket.
 * @module
 */
import { closeAll, connectMany, subscribeAll } from "./connect.ts";
import type { Driver } from "./drivers.ts";

/** What the hold scenario takes. */
export interface HoldOptions {
  port: number;
  idle: number;
  /** Gives up after this long without SIGUSR1 (a parent that died must not leave sockets open). */
  maxHoldMs: number;
}

/** Runs the scenario; `lost` counts connections the server closed while they were held. */
export async function hold(driver: Driver, o: HoldOptions) {
  let pings = 0;
  const counting: Driver = {
    ...driver,
    control(frame, send) {
      const answered = driver.control(frame, send);
      if (answered) pings++;
      return answered;
    },
  };
  const started = process.cpuUsage();
  const links = await connectMany(counting, o.port, o.idle, 100);
  await subscribeAll(counting, links, 120_000);
  console.log(`HOLDING ${links.length}`);
  const held = process.cpuUsage();
  const wall = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, o.maxHoldMs);
    process.once("SIGUSR1", () => (clearTimeout(timer), resolve()));
  });
  const seconds = (performance.now() - wall) / 1000;
  const used = process.cpuUsage(held);
  const disconnected = links.filter((link) => link.closed).length;
  closeAll(links);
  const setup = process.cpuUsage(started);
  return {
    value: links.length,
    pings,
    lost: disconnected,
    errors: 0,
    // Fractions of one core while holding, and the CPU seconds spent opening and subscribing.
    generatorCpu: (used.user + used.system) / 1e6 / seconds,
    setupCpuSeconds: (setup.user + setup.system - used.user - used.system) / 1e6,
    targetCpu: 0,
  };
}
