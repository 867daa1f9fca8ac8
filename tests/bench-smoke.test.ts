/**
 * The benchmark smoke run (bench/run.ts --smoke), one target at a time: every scenario starts, runs
 * and loses nothing. It never asserts speed. Under `bun test` it covers the Bun and Node targets and
 * the client bundles; under `deno test` the Deno targets, so each runner drives its own runtime's share.
 * Needs the peers, which the root `npm install` installs (bench/ is an npm workspace).
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { chromiumAvailable } from "./fixtures/chromium.ts";
import { RUNTIME } from "./fixtures/serve.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const targets = RUNTIME === "bun"
  ? ["tether-bun", "raw-bun", "socketio-bun", "trpc-bun", "socketio-node", "trpc-node"]
  : ["tether-deno", "raw-deno"];
const metrics = ["rpc_throughput", "rpc_latency_p50", "rpc_latency_p99", "fanout", "memory_per_conn"];
/** The memory scenario's figures beside the warm one: in a smoke run they only have to be numbers. */
const memoryMetrics = ["memory_per_conn", "memory_per_conn_cold", "memory_per_conn_next", "memory_one_time"];

/** Why the browser bench cannot make its TLS certificate here, or undefined; in CI a missing openssl is an error. */
function opensslMissing(): string | undefined {
  const probe = spawnSync("openssl", ["version"], { encoding: "utf8" });
  if (probe.status === 0) return undefined;
  const reason = "openssl is not installed (apt-get install openssl)";
  if (process.env.CI === "true") throw new Error(`Cannot run the browser bench smoke test in CI: ${reason}`);
  console.log(`Skipping the browser bench smoke test: ${reason}`);
  return reason;
}

/** Runs the smoke bench with extra flags; returns its JSON figures (fails the test on a non-zero exit). */
function smoke(...flags: string[]): Record<string, number | string>[] {
  const run = spawnSync(`${root}node_modules/.bin/bun`, ["bench/run.ts", "--smoke", ...flags], { cwd: root, encoding: "utf8", timeout: 45_000 });
  assert.equal(run.status, 0, `bench smoke failed (exit ${run.status}):\n${run.stderr.slice(-3000)}`);
  return run.stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
}

describe(`benchmark smoke run (${RUNTIME} share)`, () => {
  for (const target of targets) {
    it(`${target}: every scenario runs and loses no call, message or connection`, () => {
      const figures = smoke(`--only=${target}`);
      // Tether also fans out from a subscriber to all but itself (a client publish, ctx.broadcast).
      const all = [...metrics, ...memoryMetrics.slice(1)];
      for (const metric of target.startsWith("tether") ? [...all, "fanout_client", "fanout_broadcast"] : all) {
        const figure = figures.find((f) => f.target === target && f.metric === metric);
        assert.ok(figure !== undefined, `no ${metric} figure for ${target}`);
        // A smoke run's few connections can leave RSS where it was after the GC: memory only has to be a number.
        if (memoryMetrics.includes(metric)) assert.ok(Number.isFinite(Number(figure.value)), `${target} ${metric} is not a number`);
        else assert.ok(Number(figure.value) > 0, `${target} ${metric} measured nothing`);
        assert.equal(figure.lost, 0, `${target} ${metric} lost ${figure.lost}`);
      }
      if (target.startsWith("tether")) assert.ok(figures.length >= metrics.length, "the report printed no figures");
    });
  }

  const browserTargets = RUNTIME === "bun" ? ["tether-bun", "socketio-polling-node", "h2-echo-bun"] : ["tether-deno", "h2-echo-deno"];
  it(`browser latency in Chromium (${browserTargets.join(", ")}): every transport answers calls, the fallback over HTTP, the streamed upload over HTTP/2`, { skip: (!chromiumAvailable && "chromium is not installed") || opensslMissing() }, () => {
    const run = spawnSync(`${root}node_modules/.bin/bun`, ["bench/browser-latency.ts", "--smoke", `--only=${browserTargets.join(",")}`], { cwd: root, encoding: "utf8", timeout: 55_000 });
    assert.equal(run.status, 0, `browser bench smoke failed (exit ${run.status}):\n${run.stderr.slice(-3000)}`);
    const figures = run.stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
    const transports = [...RUNTIME === "bun" ? ["tether-ws", "tether-http", "socketio-polling"] : ["tether-ws", "tether-http"], "h2-wss", "h2-streamed", "h2-post"];
    for (const transport of transports) {
      const figure = figures.find((f) => f.metric === "browser_latency" && f.transport === transport);
      assert.ok(figure !== undefined, `no browser latency for ${transport}`);
      assert.ok(figure.calls > 0 && figure.p50 > 0 && figure.p99 >= figure.p50, `${transport} measured nothing: ${JSON.stringify(figure)}`);
    }
  });

  // raw-bun-beat: the floor (the raw echo with Tether's heartbeat frames), whose clients beat as Tether's do.
  const pair = RUNTIME === "bun" ? ["tether-bun", "raw-bun", "raw-bun-beat"] : ["tether-deno", "raw-deno"];
  it(`--idle: ${pair.join(", ")} each hold every idle subscribed connection, from two load generators, and report CPU and RSS`, () => {
    const figures = smoke("--idle", `--only=${pair.join(",")}`).filter((f) => f.metric === "idle");
    for (const target of pair) {
      const figure = figures.find((f) => f.target === target);
      assert.ok(figure !== undefined, `no idle figure for ${target}`);
      assert.equal(figure.conns, 200, `${target} held ${figure.conns} connections`);
      assert.equal(figure.lost, 0, `${target} closed ${figure.lost} idle connections`);
      assert.ok(Number(figure.kbPerConn) > 0, `${target} measured no memory per connection`);
      assert.ok(Number(figure.cpuPercent) >= 0, `${target} measured no CPU`);
      const system = Number(figure.systemPercent);
      assert.ok(system >= 0 && system <= Number(figure.cpuPercent), `${target} system CPU ${figure.systemPercent}% is not between 0 and its CPU ${figure.cpuPercent}%`);
      // Tether's client (and the floor's, which beats as it does) sends its first beat, a latency ping, with the hello.
      if (target !== "raw-bun" && target !== "raw-deno") {
        assert.ok(Number(figure.beats) >= figure.conns, `${target}'s clients sent ${figure.beats} beats for ${figure.conns} connections`);
        // …and the server answered each with its pong.
        assert.ok(Number(figure.pings) >= figure.conns, `${target} answered ${figure.pings} heartbeat frames for ${figure.conns} connections`);
      }
    }
  });

  if (RUNTIME === "bun") {
    it("--scaling: a point per size for RPC and fan-out, one Redis run per instance count, nothing lost", () => {
      const figures = smoke("--scaling", "--only=tether-bun");
      for (const [metric, sizes] of [["scaling_throughput", [5, 10, 20]], ["scaling_fanout", [20, 40, 80]]] as const) {
        for (const size of sizes) {
          const point = figures.find((f) => f.metric === metric && f.size === size);
          assert.ok(point !== undefined && Number(point.rate) > 0 && Number(point.cpuPerOp) > 0, `no ${metric} point at ${size}`);
          assert.equal(point.lost, 0);
        }
      }
      const redis = figures.filter((f) => f.metric === "scaling_redis");
      assert.deepEqual(redis.map((r) => r.instances), [1, 2]);
      for (const r of redis) assert.equal(r.delivered, Number(r.subscribers) * Number(r.messages));
    });

    it("measures the three client bundles", () => {
      const figures = smoke("--only=raw-bun", "--bundle");
      for (const client of ["tether-client", "socketio-client", "trpc-client"]) {
        assert.ok(figures.some((f) => f.target === client && f.metric === "client_bundle" && Number(f.value) > 0), `no bundle size for ${client}`);
      }
    });
  }
});
