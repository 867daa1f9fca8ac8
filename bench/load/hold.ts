/**
 * Hold: one load generator's share of the idle scenario (bench/idle.ts). Opens `idle` connections,
 * subscribes each to `feed` (a batch at a time), prints `HOLDING <n>` and then keeps each connection's
 * heartbeat exactly as the protocol's own client does, until it receives SIGUSR1: for Tether, the
 * client's own liveness watch (client/liveness.ts `createLiveness`: a latency ping with the hello and
 * every 6th beat, a beat in answer to each server beat), and the server's pings are answered; the
 * runtimes' protocol pings are answered by Bun's client itself. Several of these run at once so no single process holds every socket.
 * @module
 */
import { BEAT as SERVER_BEAT, DEFAULT_TIMING as DEFAULT_HEARTBEAT } from "../../shared/heartbeat.ts";
import { createLiveness, type Liveness, type Timing } from "../../client/liveness.ts";
import { closeAll, connect, type Link, subscribeAll } from "./connect.ts";
import type { Driver } from "./drivers.ts";

/** Handshakes at a time per generator: several generators run at once, and the listen backlog must not overflow. */
const BATCH = 50;

/**
 * How a hold client beats. `answer` (Tether's client): a first beat with the hello, then one in
 * answer to each server beat unless it beat less than half an interval ago, and one on its own only
 * after `ownBeatAfter` without. `timer` (the client before it): every interval from the hello, on
 * its own timer's phase. `silent` (a diagnostic): nothing unasked; it only answers the server's pings.
 */
export type HoldBeats = "timer" | "answer" | "silent";

/** What the hold scenario takes. */
export interface HoldOptions {
  port: number;
  idle: number;
  /** Gives up after this long without SIGUSR1 (a parent that died must not leave sockets open). */
  maxHoldMs: number;
  /** How the clients beat. @default "answer" */
  beats?: HoldBeats;
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

/** The `ts` of a pong answering a ping (`{"type":"pong","ts":N}`), or undefined for the server's beat. */
function tsOf(frame: string): number | undefined {
  return frame === SERVER_BEAT ? undefined : Number(/"ts":(\d+)/.exec(frame)?.[1]);
}

/** Runs the scenario; `lost` counts connections the server closed, or whose client found it dead, while they were held. */
export async function hold(driver: Driver, o: HoldOptions) {
  let pings = 0;
  let beats = 0;
  /** Links whose client declared the server dead (Tether's client would reconnect): lost too. */
  const dead = new Set<Link>();
  /** Stops each link's beat timer. */
  const stops: (() => void)[] = [];
  const mode = o.beats ?? "answer";
  /** Per link (by its send function): Tether's own client liveness, in the `answer` mode. */
  const livenesses = new Map<(frame: string) => void, Liveness>();
  /** The heartbeat timing the target announced in its hello (every link of a target gets the same); the default where there is no hello. */
  let timing: Timing = DEFAULT_HEARTBEAT;
  /** Starts a link's heartbeat as its client would on the hello, on the announced timing. */
  const beating = (link: Link): Link => {
    if (driver.beat === undefined || mode === "silent") return link;
    const send = (frame: string) => (link.send(frame), beats++, true);
    if (mode === "timer") {
      let tick = 0;
      const timer = setInterval(() => !link.closed && send(driver.beat!(tick++)), DEFAULT_HEARTBEAT.interval);
      stops.push(() => clearInterval(timer));
      return link;
    }
    const liveness = createLiveness(send, () => (dead.add(link), link.ws.close()));
    liveness.start(timing);
    livenesses.set(link.send, liveness);
    stops.push(() => liveness.stop());
    return link;
  };
  const counting: Driver = {
    ...driver,
    ready(frame, open) {
      if (frame.startsWith('{"type":"hello"')) timing = (JSON.parse(frame) as { heartbeat?: Timing }).heartbeat ?? timing;
      return driver.ready(frame, open);
    },
    control(frame, send) {
      const answered = driver.control(frame, send);
      if (answered) pings++;
      const liveness = livenesses.get(send);
      if (liveness !== undefined) {
        liveness.seen();
        if (frame.startsWith('{"type":"pong"')) liveness.pong(tsOf(frame));
      }
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
  // A link its client declared dead is lost even while its close handshake with a hung server is pending.
  const disconnected = links.filter((link) => link.closed || dead.has(link)).length;
  const closeCodes: Record<string, number> = {};
  for (const link of links) {
    const code = dead.has(link) ? "client: heartbeat timeout" : link.closeCode;
    if (code !== undefined) closeCodes[code] = (closeCodes[code] ?? 0) + 1;
  }
  for (const stop of stops) stop();
  closeAll(links);
  const setup = process.cpuUsage(started);
  return {
    value: links.length,
    pings,
    beats,
    lost: disconnected,
    // How the ones lost were closed: the server's close code, or the client's verdict -> count.
    closeCodes: JSON.stringify(closeCodes),
    errors: 0,
    // Fractions of one core while holding, and the CPU seconds spent opening and subscribing.
    generatorCpu: (used.user + used.system) / 1e6 / seconds,
    setupCpuSeconds: (setup.user + setup.system - used.user - used.system) / 1e6,
    targetCpu: 0,
  };
}
