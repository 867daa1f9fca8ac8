/**
 * The scripted scenarios of conformance/scenarios.json (PROTOCOL.md section 10.4), each run over raw
 * sockets against the conformance service served by this runtime's adapter.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createConformanceService } from "../conformance/service.ts";
import { createLogger, type RunningServer } from "../server/mod.ts";
import { runScenario, type Scenario } from "./fixtures/scenario-runner.ts";
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
