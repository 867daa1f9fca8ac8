/**
 * The heartbeat's sweep over fake connections (no server): each connection gets one beat per
 * interval, spread over the sweeps of the interval instead of one burst, by a native channel per
 * slice where sockets have one, on the clock's schedule however late the sweeps run; silent
 * connections are pinged once per silence, then closed.
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

/** A heartbeat over these connections on a clock that reads 0: its schedule starts at 0 when it starts. */
function heartbeatAtZero(connections: Map<string, FakeConnection>): Heartbeat {
  return new Heartbeat(TIMING, connections as unknown as Map<string, Connection>, undefined, () => 0);
}

/**
 * A heartbeat over `count` fake connections, a native channel for those where `native(i)`, its
 * schedule started at 0 and its timer stopped: the test drives `sweep(now)` itself.
 */
function sweeping(count: number, native: (i: number) => boolean) {
  const connections = new Map<string, FakeConnection>();
  const heartbeat = heartbeatAtZero(connections);
  const published: string[] = [];
  heartbeat.nativeBeat = (channel) => void published.push(channel);
  heartbeat.start();
  for (let i = 0; i < count; i++) {
    const conn = fake(String(i), 0, native(i));
    connections.set(conn.id, conn);
    heartbeat.watch(conn as unknown as Connection);
  }
  heartbeat.stop();
  return { connections, heartbeat, published };
}

describe("heartbeat sweep", () => {
  it("beats each connection once per interval, a slice of them per sweep (no burst to every socket at once)", () => {
    const connections = new Map<string, FakeConnection>();
    const heartbeat = heartbeatAtZero(connections);
    assert.equal(heartbeat.slices, 5);
    assert.equal(heartbeat.period, 200);
    heartbeat.start();
    heartbeat.stop();
    for (let i = 0; i < 50; i++) connections.set(String(i), fake(String(i), 0, false));
    const perSweep: number[] = [];
    for (let sweep = 1; sweep <= heartbeat.slices; sweep++) {
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
    const { connections, heartbeat, published } = sweeping(10, () => true);
    for (let sweep = 1; sweep <= heartbeat.slices * 2; sweep++) heartbeat.sweep(sweep * heartbeat.period);
    assert.equal(new Set(published).size, heartbeat.slices);
    assert.deepEqual(published.slice(0, heartbeat.slices), published.slice(heartbeat.slices));
    for (const conn of connections.values()) {
      assert.equal(conn.channels.length, 1);
      assert.equal(published.filter((c) => c === conn.channels[0]).length, 2, `connection ${conn.id} beaten twice in two intervals`);
      assert.deepEqual(conn.sent, [], "no beat from JavaScript to a socket with a native channel");
    }
  });

  it("a sweep timer late every time still beats each connection about once per interval: each sweep also beats the slices whose turn came meanwhile (regression: beats came slices × (period + lateness) apart)", () => {
    // Half the sockets have native channels (Bun's), half not (HTTP fallback sessions): the sweep beats those itself.
    const { connections, heartbeat } = sweeping(20, (i) => i % 2 === 0);
    let clock = 0;
    const beats = new Map<string, number[]>();
    const beaten = (key: string) => void beats.set(key, [...(beats.get(key) ?? []), clock]);
    const perSweep: string[][] = [];
    heartbeat.nativeBeat = (channel) => (beaten(channel), void perSweep.at(-1)!.push(channel));
    for (const conn of connections.values()) conn.send = (frame) => void (conn.sent.push(frame), beaten(conn.id));
    // The timer fires 60% of a period late each time, and the next one is due a period after it ran.
    const lateness = heartbeat.period * 0.6;
    const span = TIMING.interval * 10;
    while (clock + heartbeat.period + lateness <= span) {
      clock += heartbeat.period + lateness;
      for (const conn of connections.values()) conn.lastSeen = clock;
      perSweep.push([]);
      heartbeat.sweep(clock);
    }
    const keys = [...connections.values()].map((c) => c.channels[0] ?? c.id);
    assert.equal(new Set(keys).size, heartbeat.slices + 10, "a channel per slice, and the 10 sockets without one");
    for (const key of new Set(keys)) {
      const times = beats.get(key) ?? [];
      assert.ok(times.length >= 9 && times.length <= 10, `${key}: ${times.length} beats in ${span / TIMING.interval} intervals`);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      for (const gap of gaps) {
        assert.ok(Math.abs(gap - TIMING.interval) <= lateness + heartbeat.period, `${key}: beats ${gap} ms apart (interval ${TIMING.interval}, each sweep ${lateness} ms late)`);
      }
    }
    for (const channels of perSweep) assert.equal(new Set(channels).size, channels.length, "no channel published twice in one sweep");
  });

  it("a sweep more than an interval late beats every connection once, not once per turn it missed, and the next sweep one slice again", () => {
    const { connections, heartbeat, published } = sweeping(20, (i) => i % 2 === 0);
    const late = TIMING.interval * 2.5;
    // Every connection keeps talking: only beats go out.
    for (const conn of connections.values()) conn.lastSeen = late;
    heartbeat.sweep(late);
    assert.deepEqual([...published].sort(), [...new Set(published)].sort());
    assert.equal(published.length, heartbeat.slices);
    for (const conn of connections.values()) assert.equal(conn.sent.length, conn.channels.length === 0 ? 1 : 0, `connection ${conn.id}`);
    published.length = 0;
    heartbeat.sweep(late + heartbeat.period);
    assert.equal(published.length, 1);
    // The 10 sockets without a channel sit at every other place: 2 of them in the next slice.
    assert.equal([...connections.values()].reduce((n, c) => n + c.sent.length, 0), 10 + 2);
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
