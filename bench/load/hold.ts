/**
 * Hold: one load generator's share of the idle scenario (bench/idle.ts). Opens `idle` connections,
 * subscribes each to `feed` (a batch at a time), prints `HOLDING <n>` and then keeps each connection's
 * heartbeat exactly as the protocol's own client does, until it receives SIGUSR1: for Tether, from
 * the hello on, a timer per connection sends its beat every interval (client/liveness.ts, through
 * `Driver.beat`) and the server's pings are answered; the runtimes' protocol pings are answered by
 * Bun's client itself. Several of these run at once so no single process holds every socket.
 * @module
 */
import { DEFAULT_HEARTBEAT } from "../../server/heartbeat.ts";
import { closeAll, connect, type Link, subscribeAll } from "./connect.ts";
import type { Driver } from "./drivers.ts";

/** Handshakes at a time per generator: several generators run at once, and the listen backlog must not overflow. */
const BATCH = 50;

/** What the hold scenario takes. */
export interface HoldOptions {
  port: number;
  idle: number;
  /** Gives up after this long without SIGUSR1 (a parent that died must not leave sockets open). */
  maxHoldMs: number;
}

/** Opens one connection, trying again twice after a handshake that timed out (a loaded machine accepts slowly). */
async function patientConnect(driver: Driver, port: number): Promise<Link> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect(driver, port);
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

/** Runs the scenario; `lost` counts connections the server closed while they were held. */
export async function hold(driver: Driver, o: HoldOptions) {
  let pings = 0;
  let beats = 0;
  const timers: ReturnType<typeof setInterval>[] = [];
  /** Starts a link's heartbeat as its client would on the hello (the targets run the default heartbeat). */
  const beating = (link: Link): Link => {
    const beat = driver.beat;
    if (beat === undefined) return link;
    let tick = 0;
    timers.push(setInterval(() => !link.closed && (link.send(beat(tick++)), beats++), DEFAULT_HEARTBEAT.interval));
    return link;
  };
  const counting: Driver = {
    ...driver,
    control(frame, send) {
      const answered = driver.control(frame, send);
      if (answered) pings++;
      return answered;
    },
  };
  const started = process.cpuUsage();
  const links: Link[] = [];
  // Each batch subscribes before the next connects: thousands of subscribes at once stall a loaded Deno server for minutes.
  for (let i = 0; i < o.idle; i += BATCH) {
    const batch = await Promise.all(Array.from({ length: Math.min(BATCH, o.idle - i) }, () => patientConnect(counting, o.port).then(beating)));
    await subscribeAll(counting, batch, 60_000);
    links.push(...batch);
  }
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
  const closeCodes: Record<string, number> = {};
  for (const link of links) if (link.closeCode !== undefined) closeCodes[link.closeCode] = (closeCodes[link.closeCode] ?? 0) + 1;
  for (const timer of timers) clearInterval(timer);
  closeAll(links);
  const setup = process.cpuUsage(started);
  return {
    value: links.length,
    pings,
    beats,
    lost: disconnected,
    // How the server closed the ones it closed: close code -> count.
    closeCodes: JSON.stringify(closeCodes),
    errors: 0,
    // Fractions of one core while holding, and the CPU seconds spent opening and subscribing.
    generatorCpu: (used.user + used.system) / 1e6 / seconds,
    setupCpuSeconds: (setup.user + setup.system - used.user - used.system) / 1e6,
    targetCpu: 0,
  };
}
