/**
 * The client's frame routing: a server frame (text, or binary with attachments) parsed and handed
 * to the part it is for (requests, subscriptions, liveness, served procedures, the hello).
 * @module
 */
import { unpackFrame } from "../shared/binary-frame.ts";
import { decode, type Payload, readingFrame } from "../shared/codec.ts";
import { type ErrorCode, type Issue, RpcError } from "../shared/errors.ts";
import type { HelloFrame, ServerFrame } from "../shared/protocol.ts";
import type { Served } from "./implementations.ts";
import type { Liveness } from "./liveness.ts";
import type { Requests } from "./requests.ts";
import type { SubscriptionRegistry } from "./subscriptions.ts";

/**
 * The parts of a client that server frames are for.
 * @internal
 */
export interface FrameTargets {
  requests: Requests;
  subscriptions: SubscriptionRegistry;
  served: Served;
  liveness: Liveness;
  /** Writes a frame to the open socket (the pong to a server's ping). */
  send(frame: string): boolean;
  /** The server's hello: the connection is open. */
  opened(hello: HelloFrame): void;
}

/**
 * Creates the handler of a socket's messages; a frame that is not JSON is dropped.
 * @internal
 */
export function createFrameRouter(to: FrameTargets): (data: string | ArrayBuffer) => void {
  const { requests, subscriptions, served, liveness } = to;

  function dispatch(frame: ServerFrame): void {
    switch (frame.type) {
      case "hello":
        return to.opened(frame);
      case "result":
        return void requests.settle(frame.id, { ok: true, value: () => decode(frame.output, true) });
      case "error": {
        const error = toError(frame.code, frame.message, frame.data, frame.issues);
        return void (requests.settle(frame.id, { ok: false, error }) || subscriptions.failed(frame.id, error));
      }
      case "subscribed":
        return subscriptions.subscribed(frame);
      case "event":
        return subscriptions.event(frame);
      case "presence":
        return subscriptions.presence(frame);
      case "unsubscribed":
        return frame.id === null ? subscriptions.ended(frame.topic, frame.key) : undefined;
      case "ping":
        return void to.send(JSON.stringify({ type: "pong", ts: frame.ts }));
      case "pong":
        return liveness.pong(frame.ts);
      case "call":
        return served.call(frame);
      case "cancel":
        return served.cancel(frame.id);
    }
  }

  function read(text: string, attachments: Uint8Array[] | undefined): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    readingFrame(attachments, () => dispatch(frame));
  }

  /**
   * The split frame being received (PROTOCOL.md section 1.1): its head's text, the attachments it
   * announced and those arrived. A new socket's first message (its hello, text) ends a stale one.
   */
  let assembly: { text: string; following: number[]; attachments: Uint8Array[] } | undefined;

  return (data) => {
    liveness.seen();
    if (assembly !== undefined) {
      // The next attachment of a split frame; anything else breaks it: the frame is dropped, the message read on its own.
      const { text, following, attachments } = assembly;
      if (typeof data !== "string" && data.byteLength === following[attachments.length]) {
        attachments.push(new Uint8Array(data));
        if (attachments.length === following.length) (assembly = undefined, read(text, attachments));
        return;
      }
      assembly = undefined;
    }
    // A binary frame: its JSON text, and the attachments its payloads' binary values name (or announces, when split).
    const binary = typeof data === "string" ? undefined : unpackFrame(new Uint8Array(data));
    if (binary?.following?.length) assembly = { text: binary.text, following: binary.following, attachments: [] };
    else read(binary?.text ?? (data as string), binary?.attachments);
  };
}

/**
 * An error frame as an RpcError; validation issues land in `data.issues`. `code` may be an
 * application code the procedure declared: the proxy's `CallError` type says which.
 */
function toError(code: string, message: string, data: Payload | undefined, issues: Issue[] | undefined): RpcError {
  let detail: unknown;
  try {
    detail = decode(data, true);
  } catch {
    // Undecodable detail is left out: the code and message still say what failed.
  }
  return new RpcError(code as ErrorCode, message, issues === undefined ? detail : { issues, ...(detail as object | undefined) });
}
