/**
 * `bun bench/browser-latency.ts`: RPC latency as a browser user gets it. Real Chromium
 * (playwright-core, Debian's /usr/bin/chromium) makes one `echo` call at a time for `--seconds`
 * after a warm-up, over each transport: Tether over WebSocket and over its HTTP fallback (the
 * page's WebSocket is blocked) on Bun and on Deno, Socket.IO over websocket and over polling
 * (`transports: ["polling"]`) on Node and on Bun; and, as the floor of any transport making one
 * HTTP request per call, a bare `fetch` POST to the Tether servers that is answered at once; and
 * the TLS rows, over HTTP/2 to a bare echo on Bun and on Deno (bench/targets/h2-echo.ts, a
 * self-signed certificate made with openssl): a `wss://` echo, one streamed upload per page whose
 * lines come back on a long-lived response, and one POST per line: what a fallback with a
 * streamed upload could reach at best (PROTOCOL.md §11 has none yet).
 * Every target is its own process (as in run.ts); the repeats run round-robin over the targets;
 * each figure is the median over repeats, with the min–max. The server's CPU per call is read
 * from /proc over the measured window.
 *
 * Flags: `--smoke` (one short repeat: proves it runs), `--repeats=N` (default 3), `--seconds=S`
 * (default 3, after 1 s of warm-up), `--only=id,id` (target ids below), `--out=FILE`.
 * Exits 1 when a case failed, or when the fallback ran on another transport than HTTP.
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import type { Transport } from "./browser/page.ts";
import { startWindow } from "./load/meter.ts";
import { BENCH_DIR, buildNodeTargets, startTarget } from "./process.ts";
import { type Target, TARGETS } from "./targets.ts";

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
  { target: "h2-echo-bun", transports: ["h2-wss", "h2-streamed", "h2-post"] },
  { target: "h2-echo-deno", transports: ["h2-wss", "h2-streamed", "h2-post"] },
];

/** The HTTP/2 echo over TLS, on each runtime: the bench's own targets (bench/run.ts has no use for them). */
const H2_TARGETS: Target[] = (["bun", "deno"] as const).map((runtime) => ({
  id: `h2-echo-${runtime}`, label: `HTTP/2 echo on ${runtime}`, kind: "raw", runtime, driver: "raw", limit: `raw-${runtime}`, file: "h2-echo.ts",
}));
const targetOf = (id: string): Target => [...TARGETS, ...H2_TARGETS].find((t) => t.id === id)!;

const LABELS: Record<Transport, string> = {
  "tether-ws": "Tether WebSocket",
  "tether-http": "**Tether HTTP fallback**",
  "fetch-floor": "bare `fetch` POST answered at once (the floor)",
  "socketio-ws": "Socket.IO 4.8 websocket",
  "socketio-polling": "Socket.IO 4.8 polling",
  "h2-wss": "TLS: `wss://` echo",
  "h2-streamed": "TLS: **streamed upload** (HTTP/2), answer on a streamed response",
  "h2-post": "TLS: one POST per call (HTTP/2), answer on a streamed response",
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
  // The TLS rows' certificate is self-signed.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error(`${transport} page error: ${error.message}`));
  try {
    const origin = `${transport.startsWith("h2-") ? "https" : "http"}://127.0.0.1:${port}`;
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
    const expected = transport === "h2-streamed" || transport === "h2-post" ? /^http h2/ : transport === "tether-http" || transport === "fetch-floor" || transport === "socketio-polling" ? /http|polling/ : /websocket/;
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
    await context.close();
  }
}

/**
 * Makes a self-signed certificate for 127.0.0.1 (openssl) for the TLS rows; returns its directory.
 * On failure it removes the directory and throws (saying so when openssl is not installed).
 */
function makeCertificate(): string {
  const dir = mkdtempSync(join(tmpdir(), "tether-bench-tls-"));
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    ], { stdio: "ignore" });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    if ((error as { code?: unknown }).code === "ENOENT") throw new Error("Cannot make the TLS rows' certificate: openssl is not installed (apt-get install openssl)");
    throw error;
  }
  process.env.BENCH_TLS_CERT = join(dir, "cert.pem");
  process.env.BENCH_TLS_KEY = join(dir, "key.pem");
  return dir;
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
const nodeFiles = [...new Set(cases.map((c) => targetOf(c.target)).filter((t) => t.runtime === "node").map((t) => t.file))];
if (nodeFiles.length > 0) await buildNodeTargets(nodeFiles);
const script = await bundlePage();
const results = new Map<string, Sample[]>();
const failures: string[] = [];
let certificate: string | undefined;
let browser: Browser | undefined;
try {
  if (cases.some((c) => c.target.startsWith("h2-"))) certificate = makeCertificate();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // A page fulfilled by interception has no address of its own, so Chromium's local-network
    // checks would refuse its requests to 127.0.0.1; a deployed page served by the target has none.
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-features=LocalNetworkAccessChecks"],
  });
  for (let r = 1; r <= repeats; r++) {
    console.error(`== repeat ${r} of ${repeats}`);
    for (const c of cases) {
      const target = targetOf(c.target);
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
  await browser?.close();
  if (certificate !== undefined) rmSync(certificate, { recursive: true, force: true });
}

const rows: string[] = [];
const json: string[] = [];
for (const c of cases) {
  const target = targetOf(c.target);
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
/** The TLS rows' verdict: streamed upload ÷ `wss://` p99 per runtime (issue 14's goal: at most 2×). */
function ratios(): string[] {
  const lines: string[] = [];
  for (const runtime of ["bun", "deno"]) {
    const p99 = (t: Transport) => median((results.get(`h2-echo-${runtime} ${t}`) ?? []).map((s) => s.p99));
    const ratio = p99("h2-streamed") / p99("h2-wss");
    if (Number.isFinite(ratio)) lines.push(`${lines.length === 0 ? "\n" : ""}Streamed upload ÷ \`wss://\` p99 on ${runtime}: ${ratio.toFixed(2)}× (goal ≤ 2×).`);
  }
  return lines;
}

const report = [
  `Browser latency: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ${smoke ? "SMOKE (too short to mean anything)" : "full"}, ` +
  `${repeats} repeat(s), ${measureMs / 1000} s measured after ${warmupMs / 1000} s of warm-up, ${Math.round((Date.now() - started) / 1000)} s in all; median (min–max).`,
  "",
  "| Transport (Chromium, one call at a time) | p50 µs | p99 µs | server CPU µs/call | calls |",
  "| --- | ---: | ---: | ---: | ---: |",
  ...rows,
  ...ratios(),
].join("\n");
console.log(report);
for (const line of json) console.log(line);
if (flags.has("out")) writeFileSync(flags.get("out")!, report + "\n");
if (failures.length > 0) {
  console.error(`\n${failures.length} problem(s):\n${failures.join("\n")}`);
  process.exit(1);
}
