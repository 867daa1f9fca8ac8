/**
 * Lets the memory scenario ask a target for a full garbage collection (SIGUSR2), so RSS per
 * connection counts what connections keep, not garbage from their handshakes. Every target imports
 * it; Node runs with --expose-gc and Deno with --v8-flags=--expose-gc to have `gc()`.
 * @module
 */
import process from "node:process";

const runtime = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void };

/** Installs the SIGUSR2 handler that runs a full collection. */
export function collectOnSignal(): void {
  process.on("SIGUSR2", () => {
    if (runtime.Bun !== undefined) runtime.Bun.gc(true);
    else runtime.gc?.();
  });
}
