/**
 * The conformance contract: procedures and topics that exercise what the chat demo cannot (slow and
 * cancellable calls, timeouts, errors with data, targeted events, counts-only presence, server-side
 * closes). `conformance/server.ts` serves it; PROTOCOL.md section 10 documents every entry.
 * @module
 */
import * as v from "valibot";
import { defineContract, procedure, topic } from "../shared/contract.ts";
import { ERROR_CODES } from "../shared/errors.ts";

/** Close codes the `close` procedure makes the server send (PROTOCOL.md section 8). */
export const TRIGGERED_CLOSE_CODES = [1000, 1001, 1011, 1013, 4000, 4001, 4003, 4008, 4401, 4403] as const;

/** Topic params of both topics: an instance name. */
const Params = v.object({ name: v.string() });

/** Presence metadata: the connection's `?name=`, nothing time-dependent, so frames can be compared exactly. */
const Member = v.object({ name: v.string() });

/** Who an `emit` reaches (PROTOCOL.md section 4: targeted events carry no offset). */
const Target = v.object({
  connection: v.optional(v.string()),
  except: v.optional(v.string()),
  room: v.optional(v.string()),
});

/** The conformance contract. */
export const conformanceContract = defineContract({
  echo: procedure({ input: v.unknown(), output: v.unknown(), description: "Returns its input: a payload round trip" }),
  wait: procedure({
    input: v.object({ ms: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(600_000)) }),
    output: v.object({ waited: v.number() }),
    description: "Answers after `ms` milliseconds; a cancel or the call timeout aborts it first",
  }),
  fail: procedure({
    input: v.object({ code: v.picklist(ERROR_CODES), message: v.string(), data: v.optional(v.unknown()) }),
    output: v.null(),
    description: "Fails with this code, message and data",
  }),
  tick: procedure({ output: v.number(), description: "Counts its runs: 1, 2, 3… (idempotency keys make a retry return the first run's number)" }),
  crash: procedure({ output: v.null(), description: "Throws an unexpected error: INTERNAL" }),
  breakOutput: procedure({ output: v.string(), description: "Returns a number where its contract says string: INTERNAL" }),
  emit: procedure({
    input: v.object({ topic: v.picklist(["feed", "crowd"]), params: Params, message: v.unknown(), target: v.optional(Target) }),
    output: v.null(),
    description: "Publishes a message from the server, to every subscriber or to a target",
  }),
  join: procedure({ input: v.object({ room: v.string() }), output: v.null(), description: "Puts this connection in a room" }),
  close: procedure({
    input: v.object({ code: v.picklist(TRIGGERED_CLOSE_CODES), reason: v.optional(v.pipe(v.string(), v.maxLength(100)), "") }),
    output: v.null(),
    description: "Closes this connection with this code and reason, without answering",
  }),
  feed: topic({
    params: Params,
    message: v.unknown(),
    presence: Member,
    clientPublish: true,
    description: "History, full presence and client publishing",
  }),
  crowd: topic({ params: Params, message: v.unknown(), presence: Member, presenceMode: "counts", description: "Counts-only presence" }),
  ask: procedure({
    input: v.object({ value: v.unknown(), timeout: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(600_000))) }),
    output: v.unknown(),
    description: "Calls client.echo on this connection with `value` (a server-to-client call) and returns the client's answer",
  }),
  client: {
    echo: procedure({ input: v.unknown(), output: v.unknown(), description: "Implemented by the client: returns its input" }),
  },
});

/** The conformance contract's type. */
export type ConformanceContract = typeof conformanceContract;
