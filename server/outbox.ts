/**
 * The outbox: frames held back for one slow connection, oldest first, with their total size. Flow
 * control (flow-control.ts) creates one when a socket's buffer passes the limit and drops it once the
 * socket has caught up; healthy sockets never have one.
 * @module
 */
import type { WireFrame } from "../shared/binary-frame.ts";

/** One frame waiting for a slow socket. */
export interface Waiting {
  frame: WireFrame;
  /** Topic of an event frame; undefined for answers (results, errors), which are never dropped. */
  topic: string | undefined;
  /** Topic instance of an event frame, for "keep-latest". */
  channel: string | undefined;
}

/** Frames held back for one slow connection, oldest first, with their total size. */
export class Outbox {
  /** Waiting frames, oldest first. */
  readonly frames: Waiting[] = [];
  /** Sum of the waiting frames' lengths. */
  chars = 0;
}
