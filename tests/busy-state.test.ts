/**
 * A connection's busy state through a real server: held while a call is in flight or the connection
 * is in a room, let go when the last of them ends; kept after a rate-limit refusal, and let go by the
 * first accepted frame once the refusal window has passed.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createService, defineContract, procedure, type RunningServer } from "../server/mod.ts";
import { Connection, REFUSAL_WINDOW } from "../server/connection.ts";
import { openRaw, type RawSocket } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";

const contract = defineContract({
  echo: procedure({ input: v.number(), output: v.number() }),
  hold: procedure({ input: v.number(), output: v.number() }),
  enter: procedure({ input: v.string(), output: v.null() }),
  exit: procedure({ input: v.string(), output: v.null() }),
});

/** Small limits: a handful of frames at once is over the rate. */
const LIMITS = { ratePerSecond: 5, rateBurst: 5 };

describe(`a connection's busy state on ${RUNTIME}`, () => {
  let release: () => void = () => {};
  const service = createService(contract, {
    echo: (n) => n,
    hold: (n) => new Promise<number>((resolve) => (release = () => resolve(n))),
    enter: (room, ctx) => (ctx.join(room), null),
    exit: (room, ctx) => (ctx.leave(room), null),
  }, { limits: LIMITS });
  let server: RunningServer;
  before(async () => {
    server = await serve(service);
  });
  after(async () => {
    await server.stop();
  });

  /** Opens a socket and returns it with its connection on the server. */
  async function open(): Promise<{ ws: RawSocket; conn: { readonly holdsBusyState: boolean } }> {
    const ws = await openRaw(server.url);
    const conn = service.connections.get(ws.hello.connectionId);
    assert.ok(conn !== undefined, "the server has the connection");
    return { ws, conn: { get holdsBusyState() { return Connection.holdsBusyState(conn); } } };
  }

  /** Sends a call and waits for its answer. */
  async function call(ws: RawSocket, id: number, method: string, input: unknown): Promise<void> {
    ws.send({ type: "call", id, method, input: { json: input } });
    const answer = await ws.next((f) => f.id === id);
    assert.equal(answer.type, "result", JSON.stringify(answer));
  }

  it("is held while a call is in flight or a room is joined, and let go after the last of them", async () => {
    const { ws, conn } = await open();
    try {
      assert.equal(conn.holdsBusyState, false, "a fresh connection holds none");
      ws.send({ type: "call", id: 1, method: "hold", input: { json: 1 } });
      await call(ws, 2, "enter", "lobby");
      assert.equal(conn.holdsBusyState, true, "a call in flight and a room");
      release();
      await ws.next((f) => f.id === 1);
      assert.equal(conn.holdsBusyState, true, "still in a room");
      await call(ws, 3, "exit", "lobby");
      assert.equal(conn.holdsBusyState, false, "no call, no room: let go");
    } finally {
      await ws.close();
    }
  });

  it("is kept after a rate-limit refusal, and let go by the first accepted frame after the refusal window", async () => {
    const { ws, conn } = await open();
    try {
      // rateBurst calls are accepted, the next two refused (one TOO_MANY_REQUESTS answers them).
      for (let id = 1; id <= LIMITS.rateBurst + 2; id++) ws.send({ type: "call", id, method: "echo", input: { json: id } });
      const results = () => ws.frames.filter((f) => f.type === "result").length;
      const refusals = () => ws.frames.filter((f) => f.type === "error" && f.code === "TOO_MANY_REQUESTS").length;
      await until(() => results() === LIMITS.rateBurst && refusals() === 1, 5000, "the accepted calls' results and one refusal");
      assert.equal(conn.holdsBusyState, true, "the refusal count of the window is kept");
      // No event marks the window's end: wait it out (the bucket refills meanwhile).
      await new Promise((resolve) => setTimeout(resolve, REFUSAL_WINDOW + 50));
      await call(ws, 100, "echo", 100);
      assert.equal(conn.holdsBusyState, false, "an accepted frame after the window lets it go");
    } finally {
      await ws.close();
    }
  });
});
