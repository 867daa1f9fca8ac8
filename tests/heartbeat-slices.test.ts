/**
 * The heartbeat's sweep over fake connections (no server): each connection gets one beat per
 * interval, spread over the sweeps of the interval instead of one burst, by a native channel per
 * slice where sockets have one; silent connections are pinged once per silence, then closed.
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Connection } from "../server/connection.ts";
import { Heartbeat } from "../server/heartbeat.ts";

/** A connection as the sweep sees it: what it was sent, where it subscribed, how it was closed. */
interface FakeConnection {
  id: string;
  lastSeen: number;
  sent: string[];
  channels: string[];
  closedWith: number | undefined;
  socket: { subscribe?: (channel: string) => void };
  send(frame: string): void;
  close(code: number): void;
}

function fake(id: string, now: number, native: boolean): FakeConnection {
  const conn: FakeConnection = {
    id,
    lastSeen: now,
    sent: [],
    channels: [],
    closedWith: undefined,
    socket: native ? { subscribe: (channel) => conn.channels.push(channel) } : {},
    send: (frame) => void conn.sent.push(frame),
    close: (code) => void (conn.closedWith = code),
  };
  return conn;
}

const TIMING = { interval: 1000, timeout: 4000 };

describe("heartbeat sweep", () => {
  it("beats each connection once per interval, a slice of them per sweep (no burst to every socket at once)", () => {
    const connections = new Map<string, FakeConnection>();
    const heartbeat = new Heartbeat(TIMING, connections as unknown as Map<string, Connection>);
    assert.equal(heartbeat.slices, 5);
    assert.equal(heartbeat.period, 200);
    for (let i = 0; i < 50; i++) connections.set(String(i), fake(String(i), 0, false));
    const perSweep: number[] = [];
    for (let sweep = 0; sweep < heartbeat.slices; sweep++) {
      const before = [...connections.values()].reduce((n, c) => n + c.sent.length, 0);
      // Every connection keeps talking: only beats go out.
      for (const conn of connections.values()) conn.lastSeen = sweep * heartbeat.period;
      heartbeat.sweep(sweep * heartbeat.period);
      perSweep.push([...connections.values()].reduce((n, c) => n + c.sent.length, 0) - before);
    }
    assert.deepEqual(perSweep, [10, 10, 10, 10, 10]);
    for (const conn of connections.values()) assert.deepEqual(conn.sent, ['{"type":"pong"}'], `connection ${conn.id}`);
  });

  it("with native channels, each socket joins one slice's channel and each sweep publishes one channel", () => {
    const connections = new Map<string, FakeConnection>();
    const heartbeat = new Heartbeat(TIMING, connections as unknown as Map<string, Connection>);
    const published: string[] = [];
    heartbeat.nativeBeat = (channel) => void published.push(channel);
    for (let i = 0; i < 10; i++) {
      const conn = fake(String(i), 0, true);
      connections.set(conn.id, conn);
      heartbeat.watch(conn as unknown as Connection);
    }
    heartbeat.stop();
    for (let sweep = 0; sweep < heartbeat.slices * 2; sweep++) heartbeat.sweep(0);
    assert.equal(new Set(published).size, heartbeat.slices);
    assert.deepEqual(published.slice(0, heartbeat.slices), published.slice(heartbeat.slices));
    for (const conn of connections.values()) {
      assert.equal(conn.channels.length, 1);
      assert.equal(published.filter((c) => c === conn.channels[0]).length, 2, `connection ${conn.id} beaten twice in two intervals`);
      assert.deepEqual(conn.sent, [], "no beat from JavaScript to a socket with a native channel");
    }
  });

  it("pings a connection once when it is silent for (interval + timeout) / 2, and closes it with 4000 after the timeout", () => {
    const connections = new Map<string, FakeConnection>();
    const heartbeat = new Heartbeat(TIMING, connections as unknown as Map<string, Connection>);
    const conn = fake("quiet", 0, true);
    connections.set(conn.id, conn);
    heartbeat.nativeBeat = () => {};
    for (let now = 0; now <= TIMING.timeout; now += heartbeat.period) heartbeat.sweep(now);
    assert.deepEqual(conn.sent, ['{"type":"ping"}']);
    assert.equal(conn.closedWith, undefined);
    heartbeat.sweep(TIMING.timeout + 1);
    assert.equal(conn.closedWith, 4000);
  });
});
