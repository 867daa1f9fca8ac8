/**
 * Fan-out: `subs` connections subscribe to `feed`; a separate publisher connection makes the server
 * publish numbered messages, keeping at most `window` of them not yet delivered to every subscriber
 * (flow control in the generator, so no target is pushed past its buffers). Reports deliveries per
 * second over the measured window and how many deliveries never arrived.
 *
 * With `from: "client"` or `"broadcast"` the publisher subscribes too and sends each message to every
 * other subscriber (a client `publish` frame, or a call of a procedure doing `ctx.broadcast`): the same
 * `subs` receivers, one more subscriber to skip. A message reaching the publisher counts as an error.
 * @module
 */
import { closeAll, connect, connectMany, subscribeAll } from "./connect.ts";
import { type Driver, seqOf } from "./drivers.ts";
import { measureWindow, pause, startWindow } from "./meter.ts";

/** What the fan-out scenario takes. */
export interface FanoutOptions {
  port: number;
  pid: number;
  subs: number;
  window: number;
  warmupMs: number;
  measureMs: number;
  /** Longest wait for the deliveries still in flight after the window. @default 5000 */
  drainMs?: number;
  /** Who sends each message: the server for every subscriber (default), or a subscriber to all but itself. */
  from?: "server" | "client" | "broadcast";
}

/** Runs the scenario; `lost` is deliveries expected (published × subscribers) minus received. */
export async function fanout(driver: Driver, o: FanoutOptions) {
  const subscribers = await connectMany(driver, o.port, o.subs);
  await subscribeAll(driver, subscribers);
  const publisher = await connect(driver, o.port);
  const from = o.from ?? "server";
  let frameOf = driver.publish;
  if (from !== "server") {
    if (driver.allButSender === undefined) throw new TypeError(`This target cannot publish to all but the sender`);
    frameOf = driver.allButSender[from];
    await subscribeAll(driver, [publisher]);
  }
  let echoed = 0;
  publisher.onFrame = (frame) => void (seqOf(frame) >= 0 && echoed++);
  const ring = new Int32Array(o.window * 4);
  let published = 0;
  let complete = 0; // every message with seq <= complete reached every subscriber
  let delivered = 0;
  let running = true;
  const publishMore = () => {
    while (running && published - complete < o.window) {
      ring[++published % ring.length] = 0;
      publisher.send(frameOf(published, published));
    }
  };
  for (const link of subscribers) {
    link.onFrame = (frame) => {
      const seq = seqOf(frame);
      if (seq <= complete) return;
      delivered++;
      if (++ring[seq % ring.length]! < o.subs || seq !== complete + 1) return;
      // Advance past every message that is now complete.
      complete = seq;
      while (complete < published && ring[(complete + 1) % ring.length] === o.subs) complete++;
      publishMore();
    };
  }
  publishMore();
  await pause(o.warmupMs);
  const before = delivered;
  const window = startWindow(o.pid);
  await measureWindow(o.measureMs, () => delivered);
  const measured = delivered - before;
  const usage = window.stop();
  running = false;
  const deadline = Date.now() + (o.drainMs ?? 5000);
  while (complete < published && Date.now() < deadline) await pause(10);
  const disconnected = subscribers.filter((link) => link.closed).length;
  closeAll([...subscribers, publisher]);
  return {
    value: measured / usage.seconds,
    published,
    lost: published * o.subs - delivered,
    disconnected,
    errors: echoed,
    generatorCpu: usage.generatorCpu,
    targetCpu: usage.targetCpu,
  };
}
