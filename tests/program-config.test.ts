/**
 * The operator's view of `server.ts`, as a real child process of this test's runtime: every setting
 * by flag and by environment (a flag wins), `--help` listing each with its variable and every
 * endpoint, refusals of bad values, and the listening line naming the page's URL.
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { openRaw } from "./fixtures/raw-socket.ts";
import { RUNTIME } from "./fixtures/serve.ts";
import { connectTcp } from "./fixtures/tcp-client.ts";

const runArgs = RUNTIME === "deno" ? ["run", "--allow-net", "--allow-env", "--allow-read", "server.ts"] : ["server.ts"];

/** Starts server.ts and resolves with its listening line and its stderr so far (a getter). */
function start(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; line: { url: string; page: string }; stderr: () => string }> {
  const child = spawn(process.execPath, [...runArgs, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let err = "";
  child.stderr!.on("data", (chunk) => (err += String(chunk)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server.ts did not report listening within 15 s\n${err}`)), 15_000);
    let out = "";
    child.stdout!.on("data", (chunk) => {
      out += String(chunk);
      const line = out.split("\n").find((l) => l.includes('"listening"'));
      if (line !== undefined) (clearTimeout(timer), resolve({ child, line: JSON.parse(line), stderr: () => err }));
    });
    child.once("exit", (code) => (clearTimeout(timer), reject(new Error(`server.ts exited with ${code}\n${err}`))));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

/** Every setting as `--help` must list it: flag and environment variable. */
const SETTINGS = [
  ["port", "PORT"],
  ["host", "HOST"],
  ["redis", "REDIS_URL"],
  ["redis-cluster", "REDIS_CLUSTER"],
  ["origins", "TETHER_ORIGINS"],
  ["log-level", "TETHER_LOG_LEVEL"],
  ["heartbeat-interval", "TETHER_HEARTBEAT_INTERVAL"],
  ["heartbeat-timeout", "TETHER_HEARTBEAT_TIMEOUT"],
  ["max-frame-bytes", "TETHER_MAX_FRAME_BYTES"],
  ["max-depth", "TETHER_MAX_DEPTH"],
  ["max-in-flight", "TETHER_MAX_IN_FLIGHT"],
  ["max-subscriptions", "TETHER_MAX_SUBSCRIPTIONS"],
  ["rate-per-second", "TETHER_RATE_PER_SECOND"],
  ["rate-burst", "TETHER_RATE_BURST"],
  ["max-connections-per-ip", "TETHER_MAX_CONNECTIONS_PER_IP"],
  ["max-buffered-bytes", "TETHER_MAX_BUFFERED_BYTES"],
  ["call-timeout", "TETHER_CALL_TIMEOUT"],
  ["shutdown-grace", "TETHER_SHUTDOWN_GRACE"],
  ["idempotency-window", "TETHER_IDEMPOTENCY_WINDOW"],
  ["presence-window", "TETHER_PRESENCE_WINDOW"],
  ["dev", "TETHER_DEV"],
];

describe(`server.ts settings on ${RUNTIME}`, () => {
  it("--help lists every setting with its environment variable, and every endpoint", () => {
    const result = spawnSync(process.execPath, [...runArgs, "--help"], { encoding: "utf8", timeout: 15_000 });
    assert.equal(result.status, 0, result.stderr);
    for (const [flag, env] of SETTINGS) {
      assert.match(result.stdout, new RegExp(`--${flag}\\b[^\\n]*\\[${env}`), `--${flag} [${env}]`);
    }
    for (const endpoint of ["/", "/ws", "/ws/http", "/healthz", "/readyz", "/metrics", "/asyncapi.json", "/schemas.json"]) {
      assert.match(result.stdout, new RegExp(`^  ${endpoint.replaceAll(".", "\\.")}\\s`, "m"), endpoint);
    }
  });

  it("flags and environment variables reach the service (a flag wins); the listening line names the page's http:// URL", async () => {
    const { child, line, stderr } = await start(
      ["--port", "0", "--heartbeat-interval", "300", "--heartbeat-timeout=900", "--max-in-flight", "3", "--rate-burst", "50", "--log-level", "debug"],
      { TETHER_MAX_SUBSCRIPTIONS: "7", TETHER_RATE_BURST: "9", TETHER_MAX_DEPTH: "12", TETHER_ORIGINS: "https://app.example, https://admin.example" },
    );
    try {
      const { port } = new URL(line.url);
      assert.equal(line.page, `http://127.0.0.1:${port}/`);
      const page = await fetch(line.page);
      assert.match(await page.text(), /<html/i);
      const raw = await openRaw(line.url);
      try {
        assert.deepEqual(raw.hello.heartbeat, { interval: 300, timeout: 900 });
        assert.equal(raw.hello.limits.maxInFlight, 3);
        assert.equal(raw.hello.limits.maxSubscriptions, 7);
        assert.equal(raw.hello.limits.maxDepth, 12);
        assert.equal(raw.hello.limits.rateBurst, 50, "the flag wins over TETHER_RATE_BURST");
        assert.equal(raw.hello.limits.maxFrameBytes, 1_048_576, "unset: the default");
      } finally {
        await raw.close();
      }
      for (const origin of ["https://app.example", "https://admin.example"]) (await connectTcp(line.url, { Origin: origin })).destroy();
      await assert.rejects(connectTcp(line.url, { Origin: "https://elsewhere.example" }), /HTTP\/1.1 403/);
      // --log-level debug: per-connection lines on stderr.
      const deadline = Date.now() + 5000;
      while (!stderr().includes('"connection opened"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.match(stderr(), /"level":"debug","msg":"connection opened"/);
    } finally {
      await stop(child);
    }
  });

  it("bad values and unknown flags stop the program with exit code 2 and a sentence naming the setting", () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["--heartbeat-interval", "soon"], {}, /--heartbeat-interval must be a whole number/],
      [[], { TETHER_MAX_IN_FLIGHT: "0" }, /--max-in-flight .* not "0" \(from TETHER_MAX_IN_FLIGHT\)/],
      [["--log-level", "loud"], {}, /--log-level must be debug, info, warn, error or silent/],
      [["--heartbeat-interval", "5000", "--heartbeat-timeout", "4000"], {}, /must be longer than --heartbeat-interval/],
      [["--port", "70000"], {}, /--port must be a number between 0 and 65535/],
      [["--verbose"], {}, /Unknown option "--verbose"/],
      [["--redis", "redis://127.0.0.1:1"], { REDIS_CLUSTER: "redis://127.0.0.1:2" }, /--redis and --redis-cluster exclude each other/],
    ];
    for (const [args, env, message] of cases) {
      const result = spawnSync(process.execPath, [...runArgs, ...args], { encoding: "utf8", timeout: 15_000, env: { ...process.env, ...env } });
      assert.equal(result.status, 2, `${args.join(" ")} ${JSON.stringify(env)}: ${result.stderr}`);
      assert.match(result.stderr, /^Cannot start: /);
      assert.match(result.stderr, message);
    }
  });
});
