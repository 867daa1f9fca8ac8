/**
 * `createService` refuses heartbeat timing whose timeout is not longer than its interval (the CLI's
 * rule, now the options resolver's), with a RangeError naming both values.
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createService, defineContract, procedure } from "../server/mod.ts";
import { RUNTIME } from "./fixtures/serve.ts";

const contract = defineContract({ echo: procedure({ input: v.string(), output: v.string() }) });
/** Heartbeat options as a caller gives them: either field may be left to its default. */
type Timing = { interval?: number; timeout?: number };
const create = (heartbeat: Timing) => createService(contract, { echo: (s) => s }, { heartbeat });

describe(`heartbeat options on ${RUNTIME}`, () => {
  it("a timeout equal to or shorter than the interval throws a RangeError naming both", () => {
    const rule = /^heartbeat\.timeout \((\d+)\) must be longer than heartbeat\.interval \((\d+)\)$/;
    assert.throws(() => create({ interval: 1000, timeout: 1000 }), (e: unknown) => e instanceof RangeError && rule.test(e.message));
    assert.throws(() => create({ interval: 1000, timeout: 500 }), (e: unknown) => e instanceof RangeError && e.message === "heartbeat.timeout (500) must be longer than heartbeat.interval (1000)");
    // Only the interval given: checked against the default timeout (45,000 ms).
    assert.throws(() => create({ interval: 50_000 }), RangeError);
  });

  it("a timeout longer than the interval, or the defaults, are accepted", async () => {
    const accepted: Timing[] = [{}, { interval: 1000, timeout: 1001 }, { timeout: 30_000 }];
    for (const heartbeat of accepted) {
      const service = create(heartbeat);
      assert.equal(service.options.heartbeat.timeout > service.options.heartbeat.interval, true);
      await service.close();
    }
  });
});
