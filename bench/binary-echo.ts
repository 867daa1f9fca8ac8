/**
 * `bun bench/binary-echo.ts` or `deno run -A bench/binary-echo.ts`: a 1 MiB Uint8Array call round
 * trip (Tether's client and an `echo` procedure) against the same bytes echoed over a raw binary
 * WebSocket, on the runtime running it (server and client both). The server is a child process
 * (bench/targets/binary-echo.ts); both echoes are timed in alternating rounds, sequential round trips,
 * and the figure is each side's median and their ratio (issue 15 asks at most 1.5x), with each side's
 * CPU per round trip: the server process's (from /proc, Linux) and the client's.
 * Flags: `--trips=N` per round (default 40), `--rounds=R` (default 5), `--mib=M` (default 1), `--smoke`.
 * @module
 */
import { spawn } from "node:child_process";
import { createClient } from "../client/mod.ts";
import type { ContractTree } from "../shared/contract.ts";
import { cpuSecondsOf } from "./load/meter.ts";

const flags = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=") as [string, string | undefined]));
const smoke = flags.has("smoke");
const trips = Number(flags.get("trips") ?? (smoke ? 3 : 40));
const rounds = Number(flags.get("rounds") ?? (smoke ? 1 : 5));
const size = Math.round(Number(flags.get("mib") ?? 1) * 1024 * 1024);
const runtime = "Bun" in globalThis ? "bun" : "deno";

const serverPath = new URL("./targets/binary-echo.ts", import.meta.url).pathname;
const child = spawn(process.execPath, runtime === "bun" ? [serverPath] : ["run", "-A", serverPath], { stdio: ["ignore", "pipe", "inherit"] });
const [tetherPort, rawPort] = await new Promise<number[]>((resolve, reject) => {
  let out = "";
  child.stdout!.on("data", (chunk) => {
    out += String(chunk);
    const ready = /READY (\d+) (\d+)/.exec(out);
    if (ready) resolve([Number(ready[1]), Number(ready[2])]);
  });
  child.on("exit", (code) => reject(new Error(`The bench server exited with ${code}`)));
});

const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 31) & 255);

const ws = new WebSocket(`ws://127.0.0.1:${rawPort}/`);
ws.binaryType = "arraybuffer";
await new Promise<void>((resolve, reject) => ((ws.onopen = () => resolve()), (ws.onerror = () => reject(new Error("Cannot open the raw echo")))));
const rawTrip = async (): Promise<number> => {
  const started = performance.now();
  const answered = new Promise<ArrayBuffer>((resolve) => (ws.onmessage = (e) => resolve(e.data as ArrayBuffer)));
  ws.send(bytes);
  const back = await answered;
  if (back.byteLength !== size) throw new Error(`The raw echo returned ${back.byteLength} bytes`);
  return performance.now() - started;
};

const client = createClient<ContractTree>(`ws://127.0.0.1:${tetherPort}/ws`);
await client.ready();
const echo = (client.api as unknown as { echo(input: Uint8Array): Promise<Uint8Array> }).echo;
const tetherTrip = async (): Promise<number> => {
  const started = performance.now();
  const back = await echo(bytes);
  if (back.length !== size || back[size - 1] !== bytes[size - 1]) throw new Error("The Tether echo returned other bytes");
  return performance.now() - started;
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const raw: number[] = [];
const tether: number[] = [];
/** CPU ms used in each side's rounds: the server process's (from /proc, Linux only) and this client's. */
const cpu = { raw: { server: 0, client: 0 }, tether: { server: 0, client: 0 } };
const onLinux = process.platform === "linux";
/** Runs one round of trips, adding its times and both processes' CPU to a side's. */
const round = async (trip: () => Promise<number>, times: number[], used: { server: number; client: number }) => {
  const server = onLinux ? cpuSecondsOf(child.pid!) : 0;
  const client = process.cpuUsage();
  for (let i = 0; i < trips; i++) times.push(await trip());
  if (onLinux) used.server += (cpuSecondsOf(child.pid!) - server) * 1000;
  const spent = process.cpuUsage(client);
  used.client += (spent.user + spent.system) / 1000;
};
// Warm both paths up (JIT, socket buffers) before anything is counted.
for (let i = 0; i < 5; i++) (await rawTrip(), await tetherTrip());
for (let r = 0; r < rounds; r++) {
  await round(rawTrip, raw, cpu.raw);
  await round(tetherTrip, tether, cpu.tether);
}
client.close();
ws.close();
child.kill();

const result = {
  runtime,
  bytes: size,
  trips: raw.length,
  rawMs: Number(median(raw).toFixed(3)),
  tetherMs: Number(median(tether).toFixed(3)),
  ratio: Number((median(tether) / median(raw)).toFixed(2)),
  // CPU ms per round trip, server process and client (this process); the server's is Linux only (/proc).
  rawServerCpuMs: onLinux ? Number((cpu.raw.server / raw.length).toFixed(3)) : undefined,
  tetherServerCpuMs: onLinux ? Number((cpu.tether.server / tether.length).toFixed(3)) : undefined,
  rawClientCpuMs: Number((cpu.raw.client / raw.length).toFixed(3)),
  tetherClientCpuMs: Number((cpu.tether.client / tether.length).toFixed(3)),
};
console.log(JSON.stringify(result));
console.log(
  `| ${runtime} | ${(size / 1048576).toFixed(0)} MiB | ${result.rawMs} | ${result.tetherMs} | ${result.ratio}x | ` +
    `${result.rawServerCpuMs ?? "-"} / ${result.tetherServerCpuMs ?? "-"} | ${result.rawClientCpuMs} / ${result.tetherClientCpuMs} |`,
);
if (!smoke && result.ratio > 1.5) {
  console.error(`A ${size}-byte call round trip costs ${result.ratio}x the raw binary echo: over 1.5x`);
  process.exit(1);
}
process.exit(0);
