/**
 * The package as an outside user gets it: package.json and deno.json name the same entry points,
 * `npm pack` ships them and nothing of the repository's own (tests, demo, bench, examples), and the
 * `tether` CLI (run by the runtime under test) prints help, refuses bad arguments, writes a contract's
 * files and checks them.
 * @module
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RUNTIME } from "./fixtures/serve.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const npmManifest = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { name: string; version: string; exports: Record<string, string>; bin: Record<string, string> };
const denoManifest = JSON.parse(readFileSync(`${root}deno.json`, "utf8")) as { name: string; version: string; exports: Record<string, string> };
const out = mkdtempSync(join(tmpdir(), "tether-cli-"));

after(() => rmSync(out, { recursive: true, force: true }));

/** Runs the CLI with the runtime under test; returns its exit code and output. */
function tether(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const command = RUNTIME === "deno" ? [`${root}node_modules/.bin/deno`, "run", "--allow-read", "--allow-write", "--allow-env", "codegen/cli.ts"] : [`${root}node_modules/.bin/bun`, "codegen/cli.ts"];
  return spawnSync(command[0]!, [...command.slice(1), ...args], { cwd: root, encoding: "utf8", timeout: 60_000 });
}

describe(`the package (${RUNTIME})`, () => {
  it("package.json and deno.json name the same package, version and entry points, and every entry exists", () => {
    assert.equal(npmManifest.name, denoManifest.name);
    assert.equal(npmManifest.version, denoManifest.version);
    assert.deepEqual(npmManifest.exports, denoManifest.exports);
    for (const target of Object.values(npmManifest.exports)) assert.ok(existsSync(`${root}${target}`), `${target} is missing`);
    assert.equal(npmManifest.bin.tether, npmManifest.exports["./cli"]);
  });

  it("npm pack ships every entry point and none of the repository's own files", { skip: RUNTIME === "deno" && "npm pack runs once, under bun test" }, () => {
    const pack = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, encoding: "utf8", timeout: 60_000 });
    assert.equal(pack.status, 0, pack.stderr);
    const files = (JSON.parse(pack.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    for (const target of Object.values(npmManifest.exports)) assert.ok(files.includes(target.replace(/^\.\//, "")), `${target} is not packed`);
    const foreign = files.filter((f) => /^(tests|app|bench|examples|public|scripts|conformance|client\/generated)\//.test(f) || f === "server.ts");
    assert.deepEqual(foreign, []);
  });

  it("tether --help prints the usage; a missing command or option exits 2", () => {
    const help = tether("--help");
    assert.equal(help.status, 0);
    assert.match(help.stdout, /tether codegen --contract <module>\[#export\] --out <dir>/);
    assert.equal(tether().status, 2);
    assert.equal(tether("codegen", "--out", out).status, 2);
    const missing = tether("codegen", "--contract", "app/contract.ts#nope", "--out", out);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /has no export "nope"/);
  });

  it("tether codegen writes a client that imports only the Tether client, and --check tells stale from current", () => {
    const dir = join(out, RUNTIME);
    const args = ["codegen", "--contract", "app/contract.ts#contract", "--out", dir, "--name", "Chat"];
    assert.equal(tether(...args, "--check").status, 1, "--check fails before the files exist");
    const written = tether(...args);
    assert.equal(written.status, 0, written.stderr);
    assert.equal(tether(...args, "--check").status, 0, "--check passes once written");
    const client = readFileSync(join(dir, "chat.ts"), "utf8");
    assert.deepEqual([...new Set([...client.matchAll(/from "([^"]+)"/g)].map((m) => m[1]))], ["@tether/rpc/client"]);
    assert.match(client, /export function createChatClient/);
    const asyncapi = JSON.parse(readFileSync(join(dir, "asyncapi.json"), "utf8")) as { asyncapi: string; channels: Record<string, unknown> };
    assert.equal(asyncapi.asyncapi, "3.0.0");
    assert.ok("chat.send" in asyncapi.channels);
    const schemas = JSON.parse(readFileSync(join(dir, "schemas.json"), "utf8")) as { definitions: Record<string, unknown> };
    assert.ok("ChatSendInput" in schemas.definitions);
  });
});
