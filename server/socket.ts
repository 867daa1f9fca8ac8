/**
 * The socket as the core sees it: the few operations each runtime adapter provides, what became of a
 * frame it was handed, and the close reason a close frame can carry.
 * @module
 */
import type { WireFrame } from "../shared/binary-frame.ts";

/**
 * What became of a frame handed to the runtime: written to the network, queued in the runtime's own
 * buffer (look at `bufferedAmount()`), or dropped by the runtime (the core must keep it itself).
 * Each adapter translates its runtime's answer into one of these.
 */
export type SendResult = "written" | "queued" | "dropped";

/**
 * The few socket operations the core needs; each runtime adapter provides them.
 * @internal
 */
export interface Socket {
  /** Sends a text frame and says what became of it. */
  send(frame: WireFrame): SendResult;
  /** Closes the socket with a code from the close-code table and a short reason. */
  close(code: number, reason: string): void;
  /** Bytes queued by the runtime and not yet written to the network. */
  bufferedAmount(): number;
  /** Joins a runtime-native publish channel (Bun's `ws.subscribe`); absent where there is none. */
  subscribe?(channel: string): void;
  /** Leaves a runtime-native publish channel. */
  unsubscribe?(channel: string): void;
  /**
   * Sends a frame to every member of a native channel but this socket (Bun's `ws.publish`); false when
   * some member was backed up or none was reached. Absent where there is none.
   */
  publish?(channel: string, frame: WireFrame): boolean;
}

/** A close reason cut to the 123 bytes of UTF-8 a close frame can carry, never mid-character. */
export function fitReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.length <= 123) return reason;
  return new TextDecoder().decode(bytes.subarray(0, 123)).replace(/\uFFFD+$/, "");
}
