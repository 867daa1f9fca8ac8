/**
 * Lets the memory scenarios ask a target for a full garbage collection (SIGUSR2), so RSS per
 * connection counts what connections keep, not garbage from their handshakes. After the collection
 * the target prints `HEAP <used> <committed>`: the JS heap in use and the heap the engine holds, which the churn scenario reads. Every target
 * imports it; Node runs with --expose-gc and Deno with --v8-flags=--expose-gc to have `gc()`.
 * @module
 */
import process from "node:process";

const runtime = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void };

/** Installs the SIGUSR2 handler that runs a full collection and prints the heap in use. */
export function collectOnSignal(): void {
  process.on("SIGUSR2", () => {
    if (runtime.Bun !== undefined) runtime.Bun.gc(true);
    else runtime.gc?.();
    const { heapUsed, heapTotal } = process.memoryUsage();
    console.log(`HEAP ${heapUsed} ${heapTotal}`);
  });
}
