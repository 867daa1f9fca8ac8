/**
 * Presence state and diffs (PROTOCOL.md section 5) as a property: for any sequence of joins, leaves,
 * new subscribers and window ends, a subscriber that starts from its `state` frame and applies every
 * later diff (leaves, then joins) holds exactly the true membership after each diff, and no diff ever
 * announces a connection it already holds or removes one it does not.
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Payload } from "../shared/codec.ts";
import type { PresenceFrame, PresenceMetas } from "../shared/protocol.ts";
import { PresenceTracker } from "../server/presence.ts";
import { RUNTIME } from "./fixtures/serve.ts";

/** Connections and the member each belongs to: ada has two tabs. */
const MEMBER_OF = ["ada", "ada", "bo", "cy"] as const;

type Op = { kind: "join"; conn: number; variant: number } | { kind: "leave"; conn: number } | { kind: "subscribe" } | { kind: "flush" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("join" as const), conn: fc.nat(3), variant: fc.nat(1) }),
  fc.record({ kind: fc.constant("leave" as const), conn: fc.nat(3) }),
  fc.constant({ kind: "subscribe" as const }),
  fc.constant({ kind: "flush" as const }),
);

/** member -> connection -> metadata text, as a subscriber holds it. */
type Replica = Map<string, Map<string, string>>;

function fromRecord(record: Record<string, PresenceMetas> = {}): Replica {
  return new Map(Object.entries(record).map(([m, metas]) => [m, new Map(Object.entries(metas).map(([c, p]) => [c, JSON.stringify(p)]))]));
}

/** Applies a diff as PROTOCOL.md section 5 says, failing on a repeated join or an unknown leave. */
function applyDiff(replica: Replica, frame: PresenceFrame): void {
  for (const [member, metas] of Object.entries(frame.leaves ?? {})) {
    for (const conn of Object.keys(metas)) {
      assert.ok(replica.get(member)?.delete(conn), `leave of ${member}/${conn}, which the subscriber does not hold`);
      if (replica.get(member)!.size === 0) replica.delete(member);
    }
  }
  for (const [member, metas] of Object.entries(frame.joins ?? {})) {
    for (const [conn, meta] of Object.entries(metas)) {
      const known = replica.get(member) ?? new Map<string, string>();
      assert.ok(!known.has(conn), `join of ${member}/${conn}, which the subscriber already holds`);
      replica.set(member, known.set(conn, JSON.stringify(meta)));
    }
  }
}

const sorted = (replica: Replica) => JSON.stringify([...replica].map(([m, c]) => [m, [...c].sort()]).sort());

describe(`presence diffs on ${RUNTIME}`, () => {
  it("state then diffs give the exact membership, never repeating or missing a connection", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const frames: PresenceFrame[] = [];
        const tracker = new PresenceTracker(60_000, (_channel, text) => frames.push(JSON.parse(text)));
        const truth: Replica = new Map();
        const replicas: Replica[] = [];
        const joined = new Map<number, Payload>();
        try {
          for (const op of ops) {
            if (op.kind === "join" && !joined.has(op.conn)) {
              const meta: Payload = { json: { tab: op.conn, variant: op.variant } };
              joined.set(op.conn, meta);
              tracker.apply({ channel: "c", topic: "t", key: "", countsOnly: false, member: MEMBER_OF[op.conn]!, connectionId: `c${op.conn}`, meta, join: true });
            } else if (op.kind === "leave" && joined.has(op.conn)) {
              joined.delete(op.conn);
              tracker.apply({ channel: "c", topic: "t", key: "", countsOnly: false, member: MEMBER_OF[op.conn]!, connectionId: `c${op.conn}`, join: false });
            } else if (op.kind === "subscribe") {
              const state = tracker.snapshot("c");
              const replica = fromRecord(state?.state);
              assert.equal(state?.count ?? 0, replica.size, "the state's count is its members");
              replicas.push(replica);
            } else if (op.kind === "flush") {
              const before = frames.length;
              tracker.flush();
              for (const frame of frames.slice(before)) {
                for (const replica of replicas) applyDiff(replica, frame);
              }
              truth.clear();
              for (const [conn, meta] of joined) {
                const member = MEMBER_OF[conn]!;
                truth.set(member, (truth.get(member) ?? new Map()).set(`c${conn}`, JSON.stringify(meta)));
              }
              for (const replica of replicas) assert.equal(sorted(replica), sorted(truth));
              const last = frames.at(-1);
              if (frames.length > before && last !== undefined) assert.equal(last.count, truth.size, "a diff's count is the members after it");
            }
          }
        } finally {
          tracker.stop();
        }
      }),
      { numRuns: 500 },
    );
  });

  it("a connection back with other metadata within one window is a leave and a join in one diff", () => {
    const frames: PresenceFrame[] = [];
    const tracker = new PresenceTracker(60_000, (_channel, text) => frames.push(JSON.parse(text)));
    const change = (join: boolean, meta?: Payload) => tracker.apply({ channel: "c", topic: "t", key: "", countsOnly: false, member: "ada", connectionId: "c1", join, ...(meta ? { meta } : {}) });
    change(true, { json: 1 });
    tracker.flush();
    change(false);
    change(true, { json: 2 });
    assert.deepEqual(tracker.snapshot("c")?.state, { ada: { c1: { json: 1 } } });
    tracker.flush();
    assert.deepEqual(frames.at(-1), { type: "presence", topic: "t", key: "", joins: { ada: { c1: { json: 2 } } }, leaves: { ada: { c1: { json: 1 } } }, count: 1 });
    tracker.stop();
  });
});
