/**
 * `bun bench/browser-latency.ts`: RPC latency as a browser user gets it. Real Chromium
 * (playwright-core, Debian's /usr/bin/chromium) makes one `echo` call at a time for `--seconds`
 * after a warm-up, over each transport: Tether over WebSocket and over its HTTP fallback (the
 * page's WebSocket is blocked) on Bun and on Deno, Socket.IO over websocket and over polling
 * (`transports: ["polling"]`) on Node and on Bun; and, as the floor of any transport making one
 * HTTP request per call, a bare `fetch` POST to the Tether servers that is answered at once.
 * Every target is its own process (as in run.ts); the repeats run round-robin over the targets;
 * each figure is the median over repeats, with the min–max. The server's CPU per call is read
 * from /proc over the measured window.
 *
 * Flags: `--smoke` (one short repeat: proves it runs), `--repeats=N` (default 3), `--seconds=S`
 * (default 3, after 1 s of warm-up), `--only=id,id` (target ids below), `--out=FILE`.
 * Exits 1 when a case failed, or when the fallback ran on another transport than HTTP.
 * @module
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import type { Transport } from "./browser/page.ts";
import { startWindow } from "./load/meter.ts";
import { BENCH_DIR, buildNodeTargets, startTarget } from "./process.ts";
import { TARGETS } from "./targets.ts";

/** Debian's chromium package, as the browser tests use it. */
const CHROMIUM = "/usr/bin/chromium";

/** Each target and the transports measured on it (the Socket.IO targets serve one transport each). */
const CASES: { target: string; transports: Transport[] }[] = [
  { target: "tether-bun", transports: ["tether-ws", "tether-http", "fetch-floor"] },
  { target: "tether-deno", transports: ["tether-ws", "tether-http", "fetch-floor"] },
  { target: "socketio-node", transports: ["socketio-ws"] },
  { target: "socketio-polling-node", transports: ["socketio-polling"] },
  { target: "socketio-bun", transports: ["socketio-ws"] },
  { target: "socketio-polling-bun", transports: ["socketio-polling"] },
];

const LABELS: Record<Transport, string> = {
  "tether-ws": "Tether WebSocket",
  "tether-http": "**Tether HTTP fallback**",
  "fetch-floor": "bare `fetch` POST answered at once (the floor)",
  "socketio-ws": "Socket.IO 4.8 websocket",
  "socketio-polling": "Socket.IO 4.8 polling",
};

const flags = new Map(process.argv.slice(2).map((a) => {
  const [key, value] = a.replace(/^--/, "").split("=");
  return [key!, value ?? "true"] as const;
}));
const smoke = flags.has("smoke");
const repeats = Number(flags.get("repeats") ?? (smoke ? 1 : 3));
const measureMs = Math.round(Number(flags.get("seconds") ?? (smoke ? 0.5 : 3)) * 1000);
const warmupMs = smoke ? 300 : 1000;
const only = flags.get("only")?.split(",");
const cases = CASES.filter((c) => only === undefined || only.includes(c.target));
if (cases.length === 0) throw new RangeError(`No target matches --only=${flags.get("only")}; ids: ${CASES.map((c) => c.target).join(", ")}`);

/** One measured run of one transport. */
interface Sample {
  p50: number;
  p99: number;
  calls: number;
  /** µs of server CPU per call over the measured window. */
  cpuPerCall: number;
}

/** The page script, bundled once for the browser. */
async function bundlePage(): Promise<string> {
  const esbuild = await import("esbuild");
  const out = await esbuild.build({
    entryPoints: [join(BENCH_DIR, "browser", "page.ts")],
    bundle: true,
    minify: true,
    format: "iife",
    platform: "browser",
    write: false,
    logLevel: "error",
  });
  return out.outputFiles[0]!.text;
}

/** Runs one transport against a started target in a fresh page of the page's own origin. */
async function measure(browser: Awaited<ReturnType<typeof chromium.launch>>, script: string, port: number, pid: number, transport: Transport): Promise<Sample> {
  const page = await browser.newPage();
  page.on("pageerror", (error) => console.error(`${transport} page error: ${error.message}`));
  try {
    const origin = `http://127.0.0.1:${port}`;
    // The page is served from the target's origin (same-origin requests, as a deployed app's) by
    // one intercepted navigation; cross-origin isolation gives performance.now() 5 µs steps.
    await page.route(`${origin}/bench.html`, (route) =>
      route.fulfill({
        contentType: "text/html",
        headers: { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" },
        body: `<!doctype html><meta charset="utf-8"><script>${script.replaceAll("</script", "<\\/script")}</script>`,
      }));
    await page.goto(`${origin}/bench.html`);
    // Interception off again: the measured requests go to the network untouched.
    await page.unrouteAll();
    if (!await page.evaluate(() => crossOriginIsolated)) throw new Error("The bench page is not cross-origin isolated: performance.now() would be coarse");
    const used = await page.evaluate((t) => (globalThis as unknown as { bench: import("./browser/page.ts").PageBench }).bench.connect(t), transport);
    const expected = transport === "tether-http" || transport === "fetch-floor" || transport === "socketio-polling" ? /http|polling/ : /websocket/;
    if (!expected.test(used)) throw new Error(`${transport} ran over ${used}`);
    await page.evaluate((ms) => (globalThis as unknown as { bench: import("./browser/page.ts").PageBench }).bench.calls(ms, false), warmupMs);
    const window = startWindow(pid);
    const samples = await page.evaluate((ms) => (globalThis as unknown as { bench: import("./browser/page.ts").PageBench }).bench.calls(ms, true), measureMs);
    const { seconds, targetCpu } = window.stop();
    await page.evaluate(() => (globalThis as unknown as { bench: import("./browser/page.ts").PageBench }).bench.close());
    samples.sort((a, b) => a - b);
    const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? NaN;
    return { p50: at(0.5), p99: at(0.99), calls: samples.length, cpuPerCall: (targetCpu * seconds * 1e6) / samples.length };
  } finally {
    await page.close();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return ((s[Math.floor((s.length - 1) / 2)] ?? NaN) + (s[Math.ceil((s.length - 1) / 2)] ?? NaN)) / 2;
};
const spread = (xs: number[], digits = 0) => {
  const f = (x: number) => x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  return xs.length > 1 ? `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})` : f(median(xs));
};

const started = Date.now();
const nodeFiles = [...new Set(cases.map((c) => TARGETS.find((t) => t.id === c.target)!).filter((t) => t.runtime === "node").map((t) => t.file))];
if (nodeFiles.length > 0) await buildNodeTargets(nodeFiles);
const script = await bundlePage();
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  // A page fulfilled by interception has no address of its own, so Chromium's local-network
  // checks would refuse its requests to 127.0.0.1; a deployed page served by the target has none.
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-features=LocalNetworkAccessChecks"],
});
const results = new Map<string, Sample[]>();
const failures: string[] = [];
try {
  for (let r = 1; r <= repeats; r++) {
    console.error(`== repeat ${r} of ${repeats}`);
    for (const c of cases) {
      const target = TARGETS.find((t) => t.id === c.target)!;
      let running;
      try {
        running = await startTarget(target);
      } catch (error) {
        failures.push(`${c.target}: ${(error as Error).message}`);
        continue;
      }
      try {
        for (const transport of c.transports) {
          const key = `${c.target} ${transport}`;
          try {
            const sample = await measure(browser, script, running.port, running.pid, transport);
            console.error(`${key}: ${JSON.stringify(sample)}`);
            results.set(key, [...results.get(key) ?? [], sample]);
          } catch (error) {
            failures.push(`${key}: ${(error as Error).message}`);
          }
        }
      } finally {
        await running.stop();
      }
    }
  }
} finally {
  await browser.close();
}

const rows: string[] = [];
const json: string[] = [];
for (const c of cases) {
  const target = TARGETS.find((t) => t.id === c.target)!;
  for (const transport of c.transports) {
    const list = results.get(`${c.target} ${transport}`) ?? [];
    if (list.length === 0) continue;
    const runtime = target.runtime[0]!.toUpperCase() + target.runtime.slice(1);
    const pick = (f: keyof Sample) => list.map((s) => s[f]);
    rows.push(`| ${LABELS[transport]} on ${runtime} | ${spread(pick("p50"))} | ${spread(pick("p99"))} | ${spread(pick("cpuPerCall"), 1)} | ${spread(pick("calls"))} |`);
    json.push(JSON.stringify({
      target: c.target, transport, metric: "browser_latency", p50: median(pick("p50")), p99: median(pick("p99")),
      cpuPerOp: median(pick("cpuPerCall")), calls: median(pick("calls")), repeats: list.length,
    }));
  }
}
const report = [
  `Browser latency: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ${smoke ? "SMOKE (too short to mean anything)" : "full"}, ` +
  `${repeats} repeat(s), ${measureMs / 1000} s measured after ${warmupMs / 1000} s of warm-up, ${Math.round((Date.now() - started) / 1000)} s in all; median (min–max).`,
  "",
  "| Transport (Chromium, one call at a time) | p50 µs | p99 µs | server CPU µs/call | calls |",
  "| --- | ---: | ---: | ---: | ---: |",
  ...rows,
].join("\n");
console.log(report);
for (const line of json) console.log(line);
if (flags.has("out")) writeFileSync(flags.get("out")!, report + "\n");
if (failures.length > 0) {
  console.error(`\n${failures.length} problem(s):\n${failures.join("\n")}`);
  process.exit(1);
}
