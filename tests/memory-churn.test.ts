/**
 * Connection churn releases everything Tether holds (issue 12, item 10): after rounds of connections
 * that subscribe with presence, join rooms, leave calls in flight and receive events, then close
 * (from either side), every internal map and counter is back to zero, no server timer is left
 * running, no per-address count is left behind, and no `Connection` object stays reachable.
 * RSS is not asserted: what the runtime keeps after its sockets closed is measured by
 * `bun bench/churn.ts` (BENCHMARKS.md, "Memory under connection churn").
 * @module
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import * as v from "valibot";
import { createService, defineContract, procedure, topic } from "../server/mod.ts";
import { openRaw, type RawSocket } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";

const contract = defineContract({
  echo: procedure({ input: v.string(), output: v.string() }),
  hang: procedure({ input: v.string(), output: v.string() }),
  room: topic({ params: v.object({ name: v.string() }), message: v.string(), presence: v.object({ n: v.number() }) }),
});

const PER_ROUND = 40;
const ROUNDS = 3;

/** A full collection: Bun's own, or V8's exposed through node:v8 and node:vm (Deno). */
function collectGarbage(): void {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun !== undefined) return bun.gc(true);
  v8.setFlagsFromString("--expose-gc");
  (vm.runInNewContext("gc") as () => void)();
}

/** Counts live timers created by server/ code, by wrapping the global timer functions. */
function trackServerTimers() {
  const real = { setTimeout, setInterval, clearTimeout, clearInterval };
  const live = new Set<unknown>();
  const fromServer = () => /[\\/]server[\\/][a-z/-]+\.ts/.test(new Error().stack ?? "");
  const g = globalThis as unknown as Record<keyof typeof real, unknown>;
  g.setTimeout = (fn: () => void, ms?: number) => {
    if (!fromServer()) return real.setTimeout(fn, ms);
    const id = real.setTimeout(() => (live.delete(id), fn()), ms);
    live.add(id);
    return id;
  };
  g.setInterval = (fn: () => void, ms?: number) => {
    const id = real.setInterval(fn, ms);
    if (fromServer()) live.add(id);
    return id;
  };
  g.clearTimeout = (id: ReturnType<typeof setTimeout> | undefined) => (live.delete(id), real.clearTimeout(id));
  g.clearInterval = (id: ReturnType<typeof setInterval> | undefined) => (live.delete(id), real.clearInterval(id));
  return { live, restore: () => Object.assign(globalThis, real) };
}

describe(`connection churn on ${RUNTIME} releases Tether's state`, () => {
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  it(`${ROUNDS} rounds of ${PER_ROUND} busy connections leave no map entry, timer, per-address count or Connection behind`, async () => {
    const timers = trackServerTimers();
    cleanups.push(() => timers.restore());
    const service = createService(contract, {
      echo: (s) => s,
      // Never answers: the call is still in flight when its connection goes.
      hang: (_s, ctx) => new Promise<string>((_resolve, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))),
      room: {
        onSubscribe: ({ name }, ctx) => ctx.join(`room:${name}`),
        presence: (_p, ctx) => ({ key: ctx.connectionId, meta: { n: 1 } }),
      },
    }, {
      // Exactly one round's worth from 127.0.0.1: a count left behind by a closed socket refuses the next round.
      maxConnectionsPerIp: PER_ROUND,
      heartbeat: { interval: 200, timeout: 10_000 },
      presenceWindow: 20,
    });
    const server = await serve(service);
    cleanups.push(() => server.stop());
    const refs: WeakRef<object>[] = [];

    /** One round: open, get busy, close half from each side, wait until the server let go. */
    const round = async (r: number) => {
      const raws: RawSocket[] = await Promise.all(Array.from({ length: PER_ROUND }, () => openRaw(server.url)));
      raws.forEach((raw, i) => {
        raw.send({ type: "subscribe", id: 1, topic: "room", params: { json: { name: `r${i % 4}` } } });
        raw.send({ type: "call", id: 2, method: "hang", input: { json: "forever" } });
        raw.send({ type: "call", id: 3, method: "echo", input: { json: `round ${r}` } });
      });
      const got = (raw: RawSocket, type: string, id?: number) => raw.frames.some((f) => f.type === type && f.id === id);
      await until(() => raws.every((raw) => got(raw, "subscribed", 1) && got(raw, "result", 3)), 10_000, "every subscription and echo");
      service.publish("room", { name: "r0" }, "hello");
      await until(() => raws.every((raw, i) => i % 4 !== 0 || raw.frames.some((f) => f.type === "event")), 10_000, "the event in room r0");
      const busy = service.stats();
      assert.equal(busy.connections, PER_ROUND, `round ${r}: every socket was let in`);
      assert.equal(busy.inflight, PER_ROUND);
      assert.equal(busy.channels, 4);
      assert.equal(busy.rooms, 4);
      for (const conn of service.connections.values()) refs.push(new WeakRef(conn));
      const ids = [...service.connections.keys()];
      await Promise.all(raws.map(async (raw, i) => {
        if (i % 2 === 0) return raw.close();
        service.connections.get(ids.find((id) => id === raw.hello.connectionId)!)?.close(1000, "bye");
        await raw.closed;
      }));
      await until(() => service.connections.size === 0, 5000, "the server to see every close");
      await until(() => service.stats().presence === 0, 5000, "presence to flush its leaves");
    };

    for (let r = 1; r <= ROUNDS; r++) await round(r);
    assert.deepEqual(service.stats(), { connections: 0, channels: 0, rooms: 0, presence: 0, inflight: 0, queued: 0 });
    await until(() => timers.live.size === 0, 2000, "server timers to stop");
    // Nothing of Tether's (maps, timers, closures, the adapter) still reaches a closed connection.
    // Collected from fresh tasks until none is left (3 s at most): Bun lets go of a closed socket's data a
    // moment after its close event, and JSC scans the stack conservatively; a real leak never clears.
    const reachable = () => refs.filter((ref) => ref.deref() !== undefined).length;
    const deadline = Date.now() + 3000;
    let alive = refs.length;
    while (alive > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      collectGarbage();
      alive = reachable();
    }
    assert.equal(alive, 0, `${alive} of ${refs.length} closed connections still reachable`);
  });
});
