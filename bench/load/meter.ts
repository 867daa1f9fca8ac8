/**
 * CPU and memory of the measured window: the generator's own CPU (process.cpuUsage) and the target's
 * CPU and RSS read from /proc by its PID (Linux only).
 * @module
 */
import { readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100;

/** CPU seconds a process has used so far in user and in system (kernel) mode, from /proc/<pid>/stat. */
export function cpuSplitOf(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at ")"; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) / TICKS_PER_SECOND, system: Number(fields[12]) / TICKS_PER_SECOND };
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function cpuSecondsOf(pid: number): number {
  const { user, system } = cpuSplitOf(pid);
  return user + system;
}

/** Resident set size of a process in bytes, from /proc/<pid>/status. */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  if (match === null) throw new Error(`Cannot read the RSS of process ${pid}`);
  return Number(match[1]) * 1024;
}

/** A started measurement window; `stop()` gives wall time and both processes' CPU use in it. */
export interface Window {
  stop(): { seconds: number; generatorCpu: number; targetCpu: number };
}

/** Starts a window over this process and the target process. */
export function startWindow(targetPid: number): Window {
  const wall = performance.now();
  const self = process.cpuUsage();
  const target = cpuSecondsOf(targetPid);
  return {
    stop() {
      const seconds = (performance.now() - wall) / 1000;
      const used = process.cpuUsage(self);
      return {
        seconds,
        // Fractions of one core: 1.0 means the process kept one core busy the whole window.
        generatorCpu: (used.user + used.system) / 1e6 / seconds,
        targetCpu: (cpuSecondsOf(targetPid) - target) / seconds,
      };
    },
  };
}

/** Resolves after `ms` (the scenarios measure over fixed durations). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits out a measured window of `ms`, and longer (5 s at most) while `count` has not moved: on a
 * starved machine a window in which nothing happened says nothing about the target's rate.
 */
export async function measureWindow(ms: number, count: () => number): Promise<void> {
  const from = count();
  await pause(ms);
  const deadline = Date.now() + 5000;
  while (count() === from && Date.now() < deadline) await pause(10);
}
