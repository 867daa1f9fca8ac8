/**
 * The examples are users: each is a standalone app with its own manifest that imports Tether by
 * package name (`@tether/rpc`: a `file:` dependency linked by the root `npm install`, or a Deno
 * `links` entry). This file type-checks them, checks their generated clients with the codegen
 * CLI, and runs each server and client as separate processes against each other on 127.0.0.1.
 * Under `deno test` it covers the Deno app and the npm app's client on Deno; under `bun test` the
 * npm app on Bun, its esbuild bundle, and the Deno app's client run by Bun is not possible (its
 * imports live in deno.json), so Bun checks the Deno app's served documents instead.
 * @module
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { RUNTIME } from "./fixtures/serve.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name: string) => `${root}node_modules/.bin/${name}`;
const denoApp = `${root}examples/deno-counter`;
const npmApp = `${root}examples/bun-notes`;
const children: ChildProcess[] = [];

after(() => {
  for (const child of children) child.kill("SIGKILL");
});

/** Runs a command to completion in `cwd`; fails the test with its output on a non-zero exit. */
function run(cwd: string, command: string, args: string[]): string {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", timeout: 60_000 });
  assert.equal(result.status, 0, `${command} ${args.join(" ")} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`.slice(-4000));
  return result.stdout;
}

/** The last line of a client's output, as JSON. */
function lastJson(output: string): Record<string, unknown> {
  return JSON.parse(output.trim().split("\n").at(-1) ?? "{}");
}

/** What each started server printed on stdout, by process. */
const printed = new Map<ChildProcess, string>();

/** Starts an example's server on port 0 and resolves with the WebSocket URL it prints. */
function startServer(cwd: string, command: string, args: string[]): Promise<string> {
  const child = spawn(command, [...args, "0"], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  printed.set(child, "");
  child.stdout!.on("data", (chunk: Buffer) => void printed.set(child, printed.get(child) + String(chunk)));
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`${command} server printed no URL in 30 s:\n${out}\n${err}`)), 30_000);
    child.stderr!.on("data", (chunk: Buffer) => void (err += chunk));
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk;
      const url = /"url":"(ws:[^"]+)"/.exec(out)?.[1];
      if (url !== undefined) {
        clearTimeout(timer);
        resolve(url);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} server exited (${code}) before listening:\n${out}\n${err}`));
    });
  });
}

/** Stops the last server with SIGTERM, as an operator would; resolves with whether it stopped gracefully. */
function stopServer(): Promise<boolean> {
  const child = children.at(-1)!;
  return new Promise((resolve) => {
    child.on("exit", () => resolve(printed.get(child)!.includes(`"msg":"stopped"`)));
    child.kill("SIGTERM");
  });
}

const COUNTER_CODEGEN = ["codegen", "--contract", "contract.ts", "--out", "generated", "--name", "Counter", "--check"];
const NOTES_CODEGEN = ["codegen", "--contract", "contract.ts", "--out", "generated", "--name", "Notes", "--check"];

if (RUNTIME === "deno") {
  describe("examples on Deno", () => {
    it("the Deno app type-checks and its generated client is up to date (tether codegen --check under deno run)", () => {
      run(denoApp, bin("deno"), ["check", "contract.ts", "server.ts", "client.ts", "generated/counter.ts"]);
      run(denoApp, bin("deno"), ["run", "--allow-read", "--allow-write", "--allow-env", "jsr:@tether/rpc/cli", ...COUNTER_CODEGEN]);
    });

    it("the Deno app's client calls, subscribes and gets a typed error from its server", async () => {
      const url = await startServer(denoApp, bin("deno"), ["run", "--allow-net", "server.ts"]);
      const result = lastJson(run(denoApp, bin("deno"), ["run", "--allow-net", "client.ts", url]));
      assert.deepEqual(result, { after: 2, value: 2, invalid: "INVALID_INPUT", changes: [{ value: 2, by: "deno-cli" }] });
      assert.ok(await stopServer(), "the server stops gracefully on SIGTERM");
    });

    it("the npm app's generated client runs on Deno against the npm app's server (on Bun)", async () => {
      const url = await startServer(npmApp, bin("bun"), ["server.ts"]);
      const result = lastJson(run(npmApp, bin("deno"), ["run", "--allow-net", "--allow-read", "--allow-env", "client.ts", url]));
      assert.deepEqual(result.added, { id: 1, text: "from deno", atIsDate: true });
      assert.deepEqual(result.refused, { code: "BAD_REQUEST", message: "A note needs some text", isRpcError: true });
      assert.deepEqual(result.received, ["from deno"]);
      assert.ok(await stopServer(), "the server stops gracefully on SIGTERM");
    });
  });
} else {
  describe("examples on Bun", () => {
    it("the npm app type-checks with tsc and its generated client is up to date (bunx tether codegen --check)", () => {
      run(npmApp, bin("tsc"), ["-p", "."]);
      run(npmApp, bin("bun"), ["x", "tether", ...NOTES_CODEGEN]);
      const generated = run(npmApp, "cat", ["generated/notes.ts"]);
      const imports = [...generated.matchAll(/from "([^"]+)"/g)].map((m) => m[1]);
      assert.deepEqual([...new Set(imports)], ["@tether/rpc/client"], "the generated client imports only the Tether client");
    });

    it("the npm app's server and client run on Bun; the server serves its AsyncAPI document", async () => {
      const url = await startServer(npmApp, bin("bun"), ["server.ts"]);
      const result = lastJson(run(npmApp, bin("bun"), ["client.ts", url]));
      assert.deepEqual(result.added, { id: 1, text: "from bun", atIsDate: true });
      assert.deepEqual(result.refused, { code: "BAD_REQUEST", message: "A note needs some text", isRpcError: true });
      assert.equal(result.listed, 1);
      assert.deepEqual(result.received, ["from bun"]);
      const doc = await (await fetch(url.replace("ws:", "http:").replace(/\/ws$/, "/asyncapi.json"))).json() as { asyncapi: string; info: { title: string } };
      assert.equal(doc.asyncapi, "3.0.0");
      assert.equal(doc.info.title, "Notes");
      assert.ok(await stopServer(), "the server stops gracefully on SIGTERM");
    });

    it("the npm app's frontend bundles with esbuild (no valibot, no server code) and the bundle talks to the server", async () => {
      run(npmApp, bin("esbuild"), ["frontend.ts", "--bundle", "--format=esm", "--platform=browser", "--minify", "--outfile=dist/frontend.js"]);
      const bundle = run(npmApp, "cat", ["dist/frontend.js"]);
      // Markers of valibot schemas (`kind:"schema"`) and of server code (its HTTP answers, its metrics).
      const leaked = ['kind:"schema"', "Upgrade required", "tether_connections"].filter((marker) => bundle.includes(marker));
      assert.deepEqual(leaked, [], "the bundle carries only the client");
      const url = await startServer(npmApp, bin("bun"), ["server.ts"]);
      // The bundle's one export, as frontend.ts declares it (typed here so the suite does not compile the example).
      type Frontend = { start(url: string, render: (note: { text: string }) => void): Promise<{ add(text: string): Promise<unknown>; stop(): void }> };
      const frontend = await import(`${npmApp}/dist/frontend.js`) as Frontend;
      const shown: string[] = [];
      const app = await frontend.start(url, (note) => shown.push(note.text));
      await app.add("from the bundle");
      const deadline = Date.now() + 5000;
      while (!shown.includes("from the bundle") && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.deepEqual(shown, ["from the bundle"]);
      app.stop();
      assert.ok(await stopServer(), "the server stops gracefully on SIGTERM");
    });

    it("the Deno app's server (on Deno) serves its AsyncAPI document and payload schemas", async () => {
      const url = await startServer(denoApp, bin("deno"), ["run", "--allow-net", "server.ts"]);
      const base = url.replace("ws:", "http:").replace(/\/ws$/, "");
      const doc = await (await fetch(`${base}/asyncapi.json`)).json() as { info: { title: string }; channels: Record<string, unknown> };
      assert.equal(doc.info.title, "Counter");
      assert.deepEqual(Object.keys(doc.channels).sort(), ["counter.changed", "counter.increment", "counter.value"]);
      const schemas = await (await fetch(`${base}/schemas.json`)).json() as { definitions: Record<string, unknown> };
      assert.ok("CounterIncrementInput" in schemas.definitions);
      assert.ok(await stopServer(), "the server stops gracefully on SIGTERM");
    });
  });
}
