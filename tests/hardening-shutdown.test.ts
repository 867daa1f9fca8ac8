/**
 * Graceful shutdown: on SIGTERM a server stops accepting, lets in-flight calls finish (bounded),
 * closes sockets with 1001 and a retry hint, and exits 0. Runs real processes: the slow-call
 * fixture program, and server.ts itself.
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import * as v from "valibot";
import { createService, defineContract, procedure } from "../server/mod.ts";
import { openRaw } from "./fixtures/raw-socket.ts";
import process from "node:process";
import { createInterface } from "node:readline";
import { streamCalls } from "./fixtures/streaming-clients.ts";
import { connectTcp, type TcpClient, type TcpFrame } from "./fixtures/tcp-client.ts";
import { RUNTIME, serve } from "./fixtures/serve.ts";

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

  it("SIGTERM while clients stream calls: every client gets its 1001 close frame with the retry hint before TCP ends, 10 times out of 10 (regression: 3 in 10 saw TCP end without one)", async () => {
    const CLIENTS = 4;
    const failures: string[] = [];
    for (let round = 0; round < 10; round++) {
      const { child, url, exit } = await start([...deno("server.ts"), "--port", "0"], (l) => (l.includes('"listening"') ? JSON.parse(l).url : undefined));
      try {
        const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => connectTcp(`${url}?name=c${i}`)));
        // Each client streams calls (about 600 a second, under the rate limit) until the server closes it.
        const streams = clients.map((tcp) => streamCalls(tcp, "me"));
        // Signal once every client has an answer back: the calls are flowing in both directions.
        await Promise.all(clients.map((tcp) => tcp.next((f) => f.kind === "text" && f.text.includes('"result"'), 5000)));
        terminate(child);
        await Promise.all(streams);
        failures.push(...closeProblems(clients, `round ${round}`));
        assert.equal(await exit, 0);
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
      }
    }
    assert.deepEqual(failures, []);
  });

  it("server.stop() while another process's raw clients stream calls: 40 shutdowns, every client gets 1001 and its retry hint, and TCP ends without a reset (regression: on Deno about 1 shutdown in 10 closed TCP without writing the close frame)", async () => {
    const contract = defineContract({ echo: procedure({ input: v.number(), output: v.number() }) });
    const CLIENTS = 4;
    const ROUNDS = 40;
    const failures: string[] = [];
    const driver = spawn(process.execPath, RUNTIME === "deno" ? ["run", "--allow-net", "tests/fixtures/streaming-clients.ts"] : ["tests/fixtures/streaming-clients.ts"], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const lines = createInterface({ input: driver.stdout! })[Symbol.asyncIterator]();
    const reply = async (): Promise<{ streaming?: true; ends?: { close: TcpFrame | null; reset: boolean }[]; error?: string }> => {
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the client process did not answer within 20 s")), 20_000));
      const next = await Promise.race([lines.next(), timeout]);
      if (next.done === true) throw new Error("the client process ended");
      return JSON.parse(next.value);
    };
    const started = Date.now();
    let rounds = 0;
    try {
      for (; rounds < ROUNDS && Date.now() - started < 45_000; rounds++) {
        const server = await serve(createService(contract, { echo: (n) => n }, { shutdownGrace: 2000 }));
        try {
          driver.stdin!.write(`${JSON.stringify({ url: server.url, clients: CLIENTS, method: "echo", input: 1 })}\n`);
          const streaming = await reply();
          assert.equal(streaming.error, undefined);
        } finally {
          await server.stop(250);
        }
        const { ends = [], error } = await reply();
        assert.equal(error, undefined);
        for (const [i, end] of ends.entries()) {
          if (end.close === null) failures.push(`round ${rounds} client ${i}: TCP ended without a close frame`);
          else if (end.close.kind !== "close" || end.close.code !== 1001 || end.close.reason !== "retry=250") failures.push(`round ${rounds} client ${i}: ${JSON.stringify(end.close)}`);
          if (end.reset) failures.push(`round ${rounds} client ${i}: TCP reset`);
        }
      }
    } finally {
      driver.kill();
    }
    assert.deepEqual(failures, []);
    // Bounded in time on a loaded machine, but never so few rounds that the old failure rate could pass.
    assert.ok(rounds >= 30, `only ${rounds} shutdowns ran within 45 s`);
  });
});

/** What is wrong with each client's end: no close frame before TCP ended, or another code or reason. */
function closeProblems(clients: TcpClient[], label: string, reason = "retry=1000"): string[] {
  const problems: string[] = [];
  for (const [i, tcp] of clients.entries()) {
    const close = tcp.frames.find((f) => f.kind === "close");
    if (close === undefined) problems.push(`${label} client ${i}: TCP ended without a close frame`);
    else if (close.code !== 1001 || close.reason !== reason) problems.push(`${label} client ${i}: close ${close.code} ${close.reason}`);
    tcp.destroy();
  }
  return problems;
}
