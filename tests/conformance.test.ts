/**
 * The scripted scenarios of conformance/scenarios.json (PROTOCOL.md section 10.4), each run over raw
 * sockets against the conformance service served by this runtime's adapter.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createConformanceService } from "../conformance/service.ts";
import { createLogger, type RunningServer } from "../server/mod.ts";
import { runScenario, type Scenario } from "./fixtures/scenario-runner.ts";
import { freePort } from "./fixtures/server-process.ts";
import { RUNTIME, serve } from "./fixtures/serve.ts";

const { scenarios }: { scenarios: Scenario[] } = JSON.parse(readFileSync(new URL("../conformance/scenarios.json", import.meta.url), "utf8"));

describe(`conformance scenarios on ${RUNTIME}`, () => {
  let server: RunningServer;
  // The breakOutput scenario logs a warning on purpose; only errors would mean something here.
  before(async () => (server = await serve(createConformanceService({ logger: createLogger("error") }))));
  after(() => server.stop());

  it("every scenario has a unique name and at least one expectation", () => {
    assert.equal(new Set(scenarios.map((s) => s.name)).size, scenarios.length);
    for (const s of scenarios) assert.ok(s.steps.some((step) => step.expect !== undefined || step.expectClose !== undefined || step.hello !== undefined || step.openRefused !== undefined), s.name);
  });

  it("the runner fails a scenario whose expectation the server does not meet", async () => {
    const wrong: Scenario = { name: "wrong code", steps: [{ open: "a" }, { send: "a", frame: { type: "call", id: 1, method: "nope" } }, { expect: "a", frame: { type: "error", id: 1, code: "TIMEOUT", message: "$string" } }] };
    await assert.rejects(runScenario(server.url, wrong), /step 3 of "wrong code"/);
  });

  for (const scenario of scenarios) it(scenario.name, () => runScenario(server.url, scenario));
});

describe(`conformance/server.ts on ${RUNTIME}`, () => {
  it("the documented entry serves the conformance service: the first scenarios pass against it", async () => {
    const port = await freePort();
    const args = RUNTIME === "deno" ? ["run", "--allow-net", "--allow-env", "conformance/server.ts", "--port", String(port)] : ["conformance/server.ts", "--port", String(port)];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let output = "";
        const timer = setTimeout(() => reject(new Error(`conformance/server.ts did not start: ${output}`)), 15_000);
        child.stdout!.on("data", (chunk: Buffer) => {
          output += chunk.toString();
          const found = /Conformance service on (ws:\/\/\S+)/.exec(output);
          if (found !== null) (clearTimeout(timer), resolve(found[1]!));
        });
        child.once("exit", () => (clearTimeout(timer), reject(new Error(`conformance/server.ts exited: ${output}`))));
      });
      assert.equal(url, `ws://127.0.0.1:${port}/ws`);
      for (const scenario of scenarios.slice(0, 5)) await runScenario(url, scenario);
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
  });
});
