/**
 * Every server the bench measures: how to start it, which protocol drives it, and which raw echo is
 * its limit (the raw echo of the same runtime).
 * @module
 */
import type { DriverName } from "./load/drivers.ts";

/** Where a target runs. */
export type Runtime = "bun" | "deno" | "node";

/** One server under test. */
export interface Target {
  /** Short id used on the command line (`--only=tether-bun,raw-bun`). */
  id: string;
  /** Name in the tables. */
  label: string;
  /** What it is: ours, the runtime's raw echo (the limit), or a peer. */
  kind: "tether" | "raw" | "peer";
  runtime: Runtime;
  driver: DriverName;
  /** The raw echo target of the same runtime; Node has none, so its peers are compared with Bun's. */
  limit: string;
  /** The source file in bench/targets/. */
  file: string;
  /** Left out of a default run, measured when named (`--only=`) or with `--http` (the HTTP transports). */
  optIn?: boolean;
  /** Held only by the idle scenario, as its floor (the same heartbeat frames on a server that does nothing else): never driven by the default set, even when named. */
  idleFloor?: boolean;
}

/** Every target, in table order. */
export const TARGETS: Target[] = [
  { id: "tether-bun", label: "Tether on Bun", kind: "tether", runtime: "bun", driver: "tether", limit: "raw-bun", file: "tether.ts" },
  { id: "raw-bun", label: "raw Bun.serve echo", kind: "raw", runtime: "bun", driver: "raw", limit: "raw-bun", file: "raw-bun.ts" },
  { id: "raw-bun-beat", label: "raw Bun.serve echo + heartbeat", kind: "raw", runtime: "bun", driver: "raw-beat", limit: "raw-bun", file: "raw-bun-beat.ts", idleFloor: true },
  { id: "tether-deno", label: "Tether on Deno", kind: "tether", runtime: "deno", driver: "tether", limit: "raw-deno", file: "tether.ts" },
  { id: "raw-deno", label: "raw Deno.upgradeWebSocket echo", kind: "raw", runtime: "deno", driver: "raw", limit: "raw-deno", file: "raw-deno.ts" },
  { id: "socketio-bun", label: "Socket.IO 4.8 on Bun", kind: "peer", runtime: "bun", driver: "socketio", limit: "raw-bun", file: "socketio.ts" },
  { id: "trpc-bun", label: "tRPC 11 on Bun", kind: "peer", runtime: "bun", driver: "trpc", limit: "raw-bun", file: "trpc.ts" },
  { id: "socketio-node", label: "Socket.IO 4.8 on Node", kind: "peer", runtime: "node", driver: "socketio", limit: "raw-bun", file: "socketio.ts" },
  { id: "tether-http-bun", label: "Tether HTTP fallback on Bun", kind: "tether", runtime: "bun", driver: "tether-http", limit: "raw-bun", file: "tether.ts", optIn: true },
  { id: "tether-http-deno", label: "Tether HTTP fallback on Deno", kind: "tether", runtime: "deno", driver: "tether-http", limit: "raw-deno", file: "tether.ts", optIn: true },
  { id: "socketio-polling-node", label: "Socket.IO 4.8 polling on Node", kind: "peer", runtime: "node", driver: "socketio-polling", limit: "raw-bun", file: "socketio-polling.ts", optIn: true },
  { id: "socketio-polling-bun", label: "Socket.IO 4.8 polling on Bun", kind: "peer", runtime: "bun", driver: "socketio-polling", limit: "raw-bun", file: "socketio-polling.ts", optIn: true },
  { id: "trpc-node", label: "tRPC 11 on Node", kind: "peer", runtime: "node", driver: "trpc", limit: "raw-bun", file: "trpc.ts" },
];
