/**
 * The answering rules every request frame follows (PROTOCOL.md §3): an id names one request awaiting
 * its answer at a time, whatever its kind; each request is answered exactly once; and subscribe and
 * unsubscribe frames naming the same topic instance take effect, and are answered, in arrival order.
 * @module
 */
import type { WireFrame } from "../shared/binary-frame.ts";
import type { Connection } from "./connection.ts";
import { simpleErrorFrame } from "./error-frame.ts";

/** The frame that refuses a request whose id another request awaiting its answer already uses. */
export function duplicateIdFrame(id: string | number): string {
  return simpleErrorFrame(id, "DUPLICATE_ID", `Request id ${JSON.stringify(id)} is already awaiting an answer`);
}

/** Whether a request id is in use: a call in flight, or a subscribe, unsubscribe, publish or auth not answered yet. */
export function idInUse(conn: Connection, id: string | number): boolean {
  return conn.inflight.has(id) || conn.awaiting.has(id);
}

/** A subscribe, unsubscribe, publish or auth frame awaiting its one answer. */
export class PendingRequest {
  #answered = false;

  private constructor(private readonly conn: Connection, readonly id: string | number) {
    conn.addAwaiting(id);
  }

  /**
   * Takes the request's id: the request to answer, or undefined after answering `DUPLICATE_ID` when
   * the id is in use (the request it names keeps its own answer).
   */
  static claim(conn: Connection, id: string | number): PendingRequest | undefined {
    if (!idInUse(conn, id)) return new PendingRequest(conn, id);
    conn.send(duplicateIdFrame(id));
    return undefined;
  }

  /** Whether the answer was sent. */
  get answered(): boolean {
    return this.#answered;
  }

  /** Sends the answer and frees the id; any later answer is ignored, so none is ever sent twice. */
  answer(frame: WireFrame): void {
    if (this.#answered) return;
    this.#answered = true;
    this.conn.deleteAwaiting(this.id);
    this.conn.send(frame);
  }
}

/**
 * Runs work on one topic instance of a connection after the work queued on it before; at once when
 * none is. A subscribe waiting on authorization or the broker thus keeps a later unsubscribe (or a
 * second subscribe) of the same instance from overtaking it.
 * @param failed told of anything the work threw (it must still answer its request)
 */
export function inOrder(conn: Connection, channel: string, work: () => Promise<void> | void, failed: (error: unknown) => void): void {
  const before = conn.channelWork.get(channel);
  let running: Promise<void> | void;
  try {
    running = before === undefined ? work() : before.then(work);
  } catch (error) {
    return failed(error);
  }
  if (running === undefined) return;
  const tail = running.catch(failed);
  conn.setChannelWork(channel, tail);
  void tail.then(() => {
    conn.endChannelWork(channel, tail);
  });
}
