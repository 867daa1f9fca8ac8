/**
 * Graceful shutdown: on SIGTERM a server stops accepting, lets in-flight calls finish (bounded),
 * closes sockets with 1001 and a retry hint, and exits 0. Runs real processes: the slow-call
 * fixture program, and server.ts itself.
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { openRaw } from "./fixtures/raw-socket.ts";
import { RUNTIME } from "./fixtures/serve.ts";

/** Spawns a program with this runtime and resolves with its WebSocket URL (read from stdout). */
async function start(args: string[], pick: (line: string) => string | undefined): Promise<{ child: ChildProcess; url: string; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => (child.kill("SIGKILL"), reject(new Error("the program did not listen within 15 s"))), 15_000);
    let out = "";
    child.stdout!.on("data", (chunk) => {
      out += String(chunk);
      for (const line of out.split("\n")) {
        const url = line.startsWith("{") ? pick(line) : undefined;
        if (url !== undefined) return (clearTimeout(timer), resolve(url));
      }
    });
  });
  return { child, url, exit };
}

/** Sends SIGTERM by pid: Deno's ChildProcess reports any child it signalled itself as killed by that signal, whatever its exit code. */
const terminate = (child: ChildProcess) => process.kill(child.pid!, "SIGTERM");

const deno = (file: string) => (RUNTIME === "deno" ? ["run", "--allow-net", "--allow-env", "--allow-read", file] : [file]);

describe(`graceful shutdown on ${RUNTIME}`, () => {
  it("SIGTERM: the call in flight completes, new upgrades are refused, the socket closes with 1001 and a retry hint, exit 0", async () => {
    const { child, url, exit } = await start(deno("tests/fixtures/slow-server.ts"), (l) => JSON.parse(l).url);
    const base = url.replace("ws://", "http://").replace(/\/ws$/, "");
    const ws = await openRaw(url);
    try {
      ws.send({ type: "call", id: 1, method: "slow", input: { json: { ms: 800 } } });
      // The pong proves the call frame was taken in before the signal.
      ws.send({ type: "ping", ts: 1 });
      await ws.next((f) => f.type === "pong");
      terminate(child);
      // Draining: not ready any more, and no new sockets.
      let ready = 200;
      for (let i = 0; i < 100 && ready === 200; i++) {
        ready = (await fetch(`${base}/readyz`).then(async (r) => (await r.body?.cancel(), r.status)));
      }
      assert.equal(ready, 503);
      const refused = await new Promise<string>((resolve) => {
        const late = new WebSocket(url, "tether.v1");
        late.onopen = () => (late.close(), resolve("open"));
        late.onerror = () => resolve("refused");
      });
      assert.equal(refused, "refused");
      const result = await ws.next((f) => f.id === 1, 5000);
      assert.deepEqual(result, { type: "result", id: 1, output: { json: "slept 800" } });
      assert.deepEqual(await ws.closed, { code: 1001, reason: "retry=1000" });
      assert.equal(await exit, 0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("server.ts: SIGTERM closes open sockets with 1001 and a retry hint and exits 0", async () => {
    const { child, url, exit } = await start([...deno("server.ts"), "--port", "0"], (l) => (l.includes('"listening"') ? JSON.parse(l).url : undefined));
    try {
      const ws = await openRaw(`${url}?name=ada`);
      ws.send({ type: "call", id: 1, method: "me" });
      assert.equal((await ws.next((f) => f.id === 1)).output.json.name, "ada");
      terminate(child);
      assert.deepEqual(await ws.closed, { code: 1001, reason: "retry=1000" });
      assert.equal(await exit, 0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
