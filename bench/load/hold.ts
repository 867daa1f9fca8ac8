/**
 * Hold: one load generator's share of the idle scenario (bench/idle.ts). Opens `idle` connections,
 * subscribes each to `feed` (a batch at a time), prints `HOLDING <n>` and then keeps each connection's
 * heartbeat exactly as the protocol's own client does, until it receives SIGUSR1: for Tether, a beat
 * (a latency ping first and every 6th: `Driver.beat`) with the hello and then as the answer to each
 * server beat (client/liveness.ts), and the server's pings are answered; the runtimes' protocol
 * pings are answered by Bun's client itself. Several of these run at once so no single process holds every socket.
 * @module
 */
import { BEAT as SERVER_BEAT, DEFAULT_TIMING as DEFAULT_HEARTBEAT } from "../../shared/heartbeat.ts";
import { ownBeatAfter } from "../../client/liveness.ts";
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

/** Runs the scenario; `lost` counts connections the server closed while they were held. */
export async function hold(driver: Driver, o: HoldOptions) {
  let pings = 0;
  let beats = 0;
  /** Stops each link's beat timer. */
  const stops: (() => void)[] = [];
  const interval = DEFAULT_HEARTBEAT.interval;
  const mode = o.beats ?? "answer";
  /** Per link (by its send function): its beats so far and when it last sent one. */
  const beaters = new Map<(frame: string) => void, { tick: number; sentAt: number }>();
  const beatOnce = (send: (frame: string) => void, state: { tick: number; sentAt: number }) => {
    send(driver.beat!(state.tick++));
    state.sentAt = Date.now();
    beats++;
  };
  /** Starts a link's heartbeat as its client would on the hello (the targets run the default heartbeat). */
  const beating = (link: Link): Link => {
    if (driver.beat === undefined || mode === "silent") return link;
    const state = { tick: 0, sentAt: Date.now() };
    if (mode === "answer") (beaters.set(link.send, state), beatOnce(link.send, state));
    if (mode === "timer") {
      const timer = setInterval(() => !link.closed && beatOnce(link.send, state), interval);
      stops.push(() => clearInterval(timer));
      return link;
    }
    // As the client: one timer, due `ownBeatAfter` after the last beat; it usually finds a beat sent since.
    const own = ownBeatAfter(DEFAULT_HEARTBEAT);
    let timer: ReturnType<typeof setTimeout>;
    const arm = () => (timer = setTimeout(() => {
      if (link.closed) return;
      if (Date.now() - state.sentAt >= own) beatOnce(link.send, state);
      arm();
    }, Math.max(0, state.sentAt + own - Date.now())));
    arm();
    stops.push(() => clearTimeout(timer));
    return link;
  };
  const counting: Driver = {
    ...driver,
    control(frame, send) {
      const answered = driver.control(frame, send);
      if (answered) pings++;
      const state = frame === SERVER_BEAT ? beaters.get(send) : undefined;
      if (state !== undefined && Date.now() - state.sentAt >= interval / 2) beatOnce(send, state);
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
  for (const stop of stops) stop();
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
