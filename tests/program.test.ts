import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { openRaw } from "./fixtures/raw-socket.ts";
import { listeningUrl } from "./fixtures/listening-url.ts";
import { RUNTIME } from "./fixtures/serve.ts";

/** The command that runs server.ts on the runtime running this test. */
const runArgs = RUNTIME === "deno" ? ["run", "--allow-net", "--allow-env", "--allow-read", "server.ts"] : ["server.ts"];

/** Example frames of PROTOCOL.md: every line of its json code blocks that parses as one frame. */
function protocolExamples(): Record<string, unknown>[] {
  const text = readFileSync(new URL("../PROTOCOL.md", import.meta.url), "utf8");
  const blocks = [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks.flatMap((b) => b.split("\n")).filter((l) => l.startsWith("{")).flatMap((l) => {
    try {
      return [JSON.parse(l)];
    } catch {
      return [];
    }
  });
}

describe(`server.ts on ${RUNTIME}`, () => {
  let child: ChildProcess;
  let url: string;
  let base: string;
  before(async () => {
    child = spawn(process.execPath, [...runArgs, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
    url = await listeningUrl(child);
    base = url.replace("ws://", "http://").replace(/\/ws$/, "");
  });
  after(async () => {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  });

  it("--help prints usage and exits 0", () => {
    const result = spawnSync(process.execPath, [...runArgs, "--help"], { encoding: "utf8", timeout: 15_000 });
    assert.equal(result.status, 0);
    assert.match(result.stdout, /--port <n>.*\[PORT\]/);
    assert.match(result.stdout, /--host <name>/);
  });

  it("the README's start command for this runtime works (`deno task start` / `bun run start`)", () => {
    const args = RUNTIME === "deno" ? ["task", "start", "--help"] : ["run", "start", "--help"];
    const result = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 15_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /Usage: deno task start/);
  });

  it("PORT and HOST come from the environment when no flag is given", async () => {
    const envChild = spawn(process.execPath, runArgs, {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, PORT: "0", HOST: "127.0.0.1" },
    });
    try {
      const listening = await listeningUrl(envChild);
      const url = new URL(listening);
      assert.equal(url.hostname, "127.0.0.1");
      assert.notEqual(url.port, "8080", "PORT=0 picked a free port instead of the default");
      const res = await fetch(`http://127.0.0.1:${url.port}/healthz`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
    } finally {
      const exited = new Promise((r) => envChild.once("exit", r));
      envChild.kill("SIGTERM");
      await exited;
    }
  });

  it("GET /healthz answers 200 JSON", async () => {
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
    assert.equal((await res.json()).status, "ok");
  });

  it("a plain GET on the socket path answers 426 Upgrade Required", async () => {
    const res = await fetch(`${base}/ws`);
    assert.equal(res.status, 426);
    assert.equal(res.headers.get("upgrade"), "websocket");
    await res.body?.cancel();
  });

  it("an upgrade that does not offer tether.v1 is refused", async () => {
    const ws = new WebSocket(url, "something.else");
    const outcome = await new Promise<string>((resolve) => {
      ws.onopen = () => resolve("open");
      ws.onerror = () => resolve("refused");
      ws.onclose = () => resolve("refused");
    });
    if (ws.readyState < 2) ws.close();
    assert.equal(outcome, "refused");
  });

  it("a raw client built only from PROTOCOL.md's examples can call a procedure and subscribe", async () => {
    const examples = protocolExamples();
    const call = examples.find((f) => f.type === "call")!;
    const subscribe = examples.find((f) => f.type === "subscribe")!;
    assert.ok(call && subscribe, "PROTOCOL.md has call and subscribe examples");
    const raw = await openRaw(url);
    try {
      raw.send(subscribe);
      const subscribed = await raw.next((f) => f.id === subscribe.id);
      assert.equal(subscribed.type, "subscribed");
      raw.send(call);
      const event = await raw.next((f) => f.type === "event");
      assert.equal(event.key, subscribed.key);
      const result = await raw.next((f) => f.id === call.id);
      assert.equal(result.type, "result");
      assert.equal(result.output.json.text, "hello");
      assert.deepEqual(result.output.meta.values, { sentAt: ["Date"] });
    } finally {
      await raw.close();
    }
  });
});
