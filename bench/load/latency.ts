/**
 * RPC latency: one connection, one echo call at a time; p50 and p99 round trip in microseconds.
 * @module
 */
import { connect } from "./connect.ts";
import type { Driver } from "./drivers.ts";
import { startWindow } from "./meter.ts";

/** What the latency scenario takes. */
export interface LatencyOptions {
  port: number;
  pid: number;
  warmupMs: number;
  measureMs: number;
}

const MAX_SAMPLES = 500_000;

/** Runs the scenario. */
export async function latency(driver: Driver, o: LatencyOptions) {
  const link = await connect(driver, o.port);
  const samples = new Float64Array(MAX_SAMPLES);
  let count = 0;
  let errors = 0;
  let id = 0;
  let window: ReturnType<typeof startWindow> | undefined;
  const started = performance.now();
  const result = await new Promise<ReturnType<ReturnType<typeof startWindow>["stop"]>>((resolve, reject) => {
    let sentAt = 0;
    const timer = setTimeout(() => reject(new Error("Latency run did not finish: a call went unanswered")), o.warmupMs + o.measureMs + 5000);
    const next = () => {
      sentAt = performance.now();
      link.send(driver.call(++id));
    };
    link.onFrame = (frame) => {
      const now = performance.now();
      if (!driver.isReply(frame)) return void errors++;
      if (window !== undefined) samples[count++] = now - sentAt;
      else if (now - started >= o.warmupMs) window = startWindow(o.pid);
      if (window !== undefined && (now - started >= o.warmupMs + o.measureMs || count === MAX_SAMPLES)) {
        clearTimeout(timer);
        return resolve(window.stop());
      }
      next();
    };
    next();
  });
  link.ws.close();
  const sorted = samples.subarray(0, count).sort();
  const at = (q: number) => (sorted[Math.min(count - 1, Math.floor(q * count))] ?? 0) * 1000;
  return { value: at(0.5), p99: at(0.99), calls: count, lost: 0, errors, generatorCpu: result.generatorCpu, targetCpu: result.targetCpu };
}
