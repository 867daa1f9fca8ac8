/**
 * Target processes: start one on 127.0.0.1, wait for its `READY <port>` line, stop it by its PID;
 * and run one load-generator process to completion.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Target } from "./targets.ts";

/** bench/ on disk. */
export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = join(BENCH_DIR, "..");
const BIN = join(ROOT, "node_modules", ".bin");
const BUILD = join(BENCH_DIR, ".build");

/** A started target. */
export interface RunningTarget {
  pid: number;
  port: number;
  /** Everything the target printed so far (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
}

/** Compiles the Node targets to JavaScript (Node 20 does not run TypeScript); imports stay bare. */
export async function buildNodeTargets(files: string[]): Promise<void> {
  mkdirSync(BUILD, { recursive: true });
  const esbuild = await import("esbuild");
  await esbuild.build({
    entryPoints: files.map((f) => join(BENCH_DIR, "targets", f)),
    outdir: BUILD,
    outExtension: { ".js": ".mjs" },
    format: "esm",
    platform: "node",
    bundle: true,
    packages: "external",
    logLevel: "error",
  });
}

/** The command that starts a target. */
function commandOf(target: Target): string[] {
  const source = join(BENCH_DIR, "targets", target.file);
  if (target.runtime === "bun") return [join(BIN, "bun"), source];
  if (target.runtime === "deno") return [join(BIN, "deno"), "run", "--allow-net", "--allow-read", "--allow-env", "--v8-flags=--expose-gc", source];
  return ["node", "--expose-gc", join(BUILD, target.file.replace(/\.ts$/, ".mjs"))];
}

/**
 * Starts a target and resolves once it printed `READY <port>` (rejects after 20 s or on exit).
 * `prefix` runs it through another command, e.g. `prlimit --nofile=65536:65536`.
 */
export function startTarget(target: Target, prefix: string[] = []): Promise<RunningTarget> {
  const [command, ...args] = [...prefix, ...commandOf(target)];
  const child = spawn(command!, args, { cwd: BENCH_DIR, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${target.id} did not start: ${why}\n${output.slice(-2000)}`));
    };
    const timer = setTimeout(() => fail("no READY line within 20 s"), 20_000);
    child.on("exit", (code) => fail(`exited with ${code}`));
    child.stderr!.on("data", (chunk) => (output += chunk));
    child.stdout!.on("data", (chunk) => {
      output += chunk;
      const match = /READY (\d+)/.exec(output);
      if (match === null || child.pid === undefined) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      resolve({ pid: child.pid, port: Number(match[1]), output: () => output, stop: () => stopProcess(child) });
    });
  });
}

/** Sends SIGTERM to the PID, then SIGKILL if it has not exited within 3 s. */
function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => process.kill(child.pid!, "SIGKILL"), 3000);
    child.once("exit", () => (clearTimeout(kill), resolve()));
    process.kill(child.pid!, "SIGTERM");
  });
}

/** A load-generator process on Bun, started with a job. */
export interface GeneratorProcess {
  pid: number;
  /** Everything it printed on stdout so far. */
  stdout(): string;
  /** Resolves with its last stdout line as JSON once it exits (a `failed` entry if none); SIGKILL after `timeoutMs`. */
  result(timeoutMs: number): Promise<Record<string, number | string>>;
}

/** Starts the load generator on Bun with a job; `prefix` runs it through another command (e.g. `taskset -c 1`). */
export function spawnGenerator(job: object, prefix: string[] = []): GeneratorProcess {
  const [command, ...args] = [...prefix, join(BIN, "bun"), join(BENCH_DIR, "load", "generator.ts"), JSON.stringify(job)];
  const child = spawn(command!, args, {
    cwd: BENCH_DIR,
    stdio: ["ignore", "pipe", "pipe"],
    // Bun's fetch allows 256 requests at once by default: the HTTP transports hold one per session.
    env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: "65000" },
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (chunk) => (out += chunk));
  child.stderr!.on("data", (chunk) => (err += chunk));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return {
    pid: child.pid!,
    stdout: () => out,
    async result(timeoutMs) {
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      await exited;
      clearTimeout(timer);
      const line = out.trim().split("\n").pop() ?? "";
      try {
        return JSON.parse(line);
      } catch {
        return { failed: `generator printed no result (${err.trim().slice(-300) || "killed after timeout"})` };
      }
    },
  };
}

/** Runs the load generator on Bun with a job and returns the JSON line it printed. */
export function runGenerator(job: object, timeoutMs: number, prefix: string[] = []): Promise<Record<string, number | string>> {
  return spawnGenerator(job, prefix).result(timeoutMs);
}
