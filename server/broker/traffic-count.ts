/**
 * Counts what moves on one node-redis connection (commands written to the socket, replies come
 * back), so that the link's watchdog can tell a busy connection from a stalled one.
 *
 * A PING waits behind everything queued before it: under a burst of publishes it is answered after
 * seconds although the connection works. Before the PING is written, commands going out show that
 * the connection moves (Deno reads replies only once its writes are done); once it is written, only
 * replies do (a silent peer takes every byte and answers none).
 *
 * node-redis tells when a command leaves its queue for the socket by removing the command's abort
 * listener: each command gets a signal that never aborts and counts those removals.
 * @module
 */
import { ErrorReply } from "redis";

/** What moved on a connection so far. */
export interface Traffic {
  /** Replies that came back: commands answered (an error reply too), pub/sub messages. */
  replies(): number;
  /** Commands written to the socket. */
  writes(): number;
  /** Sends a PING; `written` is called once it has left the queue for the socket. */
  ping(written: () => void): Promise<unknown>;
}

/** The members of a node-redis client the count wraps: every command, script and PING goes through sendCommand. */
interface CommandSender {
  sendCommand(args: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
  withAbortSignal(signal: AbortSignal): { ping(): Promise<unknown> };
  /** The client itself: node-redis hands out objects created from it, and its commands call `_self.sendCommand`. */
  _self?: object;
}

/** A signal that never aborts and calls `removed` each time node-redis drops a listener (the command was written). */
function writeSignal(removed: () => void): AbortSignal {
  const signal = { aborted: false, addEventListener() {}, removeEventListener: removed };
  // Adapter boundary: node-redis reads only `aborted` and adds and removes one "abort" listener.
  return signal as unknown as AbortSignal;
}

/** The node-redis client behind `client`, where every command looks sendCommand up. */
function base(client: object): CommandSender {
  // Adapter boundary: node-redis types sendCommand generically; the wrapper passes everything through.
  const sender = client as CommandSender;
  return (sender._self as CommandSender | undefined) ?? sender;
}

const counts = new WeakMap<object, { replies: number; writes: number }>();

/**
 * Starts counting on `client` (once per client; later calls share the count). A command failed
 * without an answer (the connection closed) counts as no reply.
 */
export function countTraffic(client: object): Traffic {
  const sender = base(client);
  let count = counts.get(sender);
  if (count === undefined) {
    const counted = (count = { replies: 0, writes: 0 });
    counts.set(sender, counted);
    const signal = writeSignal(() => void counted.writes++);
    const send = sender.sendCommand;
    sender.sendCommand = function (this: unknown, args, options) {
      const reply = send.call(this, args, options?.abortSignal === undefined ? { ...options, abortSignal: signal } : options);
      reply.then(() => counted.replies++, (error: unknown) => void (error instanceof ErrorReply && counted.replies++));
      return reply;
    };
  }
  const current = count;
  return {
    replies: () => current.replies,
    writes: () => current.writes,
    ping(written) {
      let once = false;
      const signal = writeSignal(() => {
        current.writes++;
        if (!once) (once = true), written();
      });
      return sender.withAbortSignal(signal).ping();
    },
  };
}

/** Counts a reply that came on `client` outside a command (a pub/sub message); no-op for a client not counted. */
export function noteReply(client: object): void {
  const count = counts.get(base(client));
  if (count !== undefined) count.replies++;
}
