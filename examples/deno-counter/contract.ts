/**
 * The counter service's contract: one shared number, changed by calls, watched through a topic.
 * @module
 */
import * as v from "valibot";
import { defineContract, procedure, topic } from "@tether/rpc";

/** The counter service's contract. */
export const contract = defineContract({
  counter: {
    increment: procedure({
      input: v.object({ by: v.pipe(v.number(), v.integer(), v.minValue(1)) }),
      output: v.number(),
      description: "Adds `by` to the counter and returns the new value",
    }),
    value: procedure({ output: v.number(), description: "The counter's value" }),
    // No params: every subscriber watches the same counter.
    changed: topic({ message: v.object({ value: v.number(), by: v.string() }), description: "Each change, with who made it" }),
  },
});
