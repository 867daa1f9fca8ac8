/**
 * One frame from a client, from text to its handler: rate limit, size and depth, forbidden keys,
 * the frame schema, safe payloads, then dispatch by type. Every refusal answers per PROTOCOL.md.
 * @module
 */
import * as v from "valibot";
import { unpackFrame } from "../shared/binary-frame.ts";
import { parseFrame, readingFrame } from "../shared/codec.ts";
import { RpcError } from "../shared/errors.ts";
import { ClientFrame, CloseCode, type Limits } from "../shared/protocol.ts";
import { forbiddenKey, framePayloadProblem } from "../shared/safe-decode.ts";
import { plainCallFrame } from "./call-frame.ts";
import { runCall } from "./calls.ts";
import { type Connection, REFUSAL_WINDOW } from "./connection.ts";
import { simpleErrorFrame, toIssues } from "./error-frame.ts";
import { OVERSIZE_CLOSE_FACTOR } from "./options.ts";
import type { Core } from "./core.ts";
import { PendingRequest } from "./requests.ts";
import { subscribe } from "./subscribe.ts";
import { clientPublish, unsubscribe } from "./subscriptions.ts";

const PONG = JSON.stringify({ type: "pong" });

/** Each client frame's schema by its `type`: validating one object schema skips the variant's search, which allocates a Set per frame. */
const FRAME_SCHEMAS = new Map<unknown, v.GenericSchema<unknown, ClientFrame>>(ClientFrame.options.map((schema) => [schema.entries.type.literal, schema]));

/** Handles one frame a client sent. */
export function receive<A>(core: Core<A>, conn: Connection<A>, data: string | ArrayBuffer | Uint8Array): void {
  // Frames that arrive after the server's close frame are not read (the runtime may still deliver a few).
  if (!conn.open) return;
  const now = Date.now();
  conn.lastSeen = now;
  const { limits } = core.options;
  // Every frame pays its token before anything else is looked at, binary and oversized ones included.
  const admission = conn.admit(now);
  if (admission !== "accepted") return refuseRate(core, conn, admission);
  const size = typeof data === "string" ? data.length : data.byteLength;
  if (size > limits.maxFrameBytes * OVERSIZE_CLOSE_FACTOR) {
    core.metrics.reject("PAYLOAD_TOO_LARGE");
    return conn.close(CloseCode.TOO_BIG, "frame too large");
  }
  let text: string;
  let attachments: Uint8Array[] | undefined;
  if (typeof data === "string") text = data;
  else {
    // A binary frame's limit is on its bytes, attachments included (PROTOCOL.md section 1.1).
    if (size > limits.maxFrameBytes) {
      core.metrics.reject("PAYLOAD_TOO_LARGE");
      return void conn.send(faultFrame("too-large", limits));
    }
    const unpacked = unpackFrame(data instanceof Uint8Array ? data : new Uint8Array(data));
    if (unpacked === undefined) {
      return refuse(core, conn, "BAD_REQUEST", simpleErrorFrame(null, "BAD_REQUEST", "Binary frame is malformed: its lengths do not add up or its text is not UTF-8"));
    }
    ({ text, attachments } = unpacked);
  }
  const parsed = parseFrame(text, limits.maxFrameBytes, limits.maxDepth);
  if (!parsed.ok) {
    core.metrics.reject(parsed.fault === "malformed" ? "PARSE_ERROR" : "PAYLOAD_TOO_LARGE");
    return void conn.send(faultFrame(parsed.fault, limits));
  }
  const forbidden = forbiddenKey(text, parsed.value);
  if (forbidden !== undefined) {
    return refuse(core, conn, "BAD_REQUEST", simpleErrorFrame(idOf(parsed.value), "BAD_REQUEST", `Frame refused: "${forbidden}" is not allowed as a key`));
  }
  // A plain call frame, the common one, is checked by hand; every other frame gets the protocol schema's verdict.
  let frame: ClientFrame | undefined = plainCallFrame(parsed.value);
  if (frame === undefined) {
    const result = v.safeParse(frameSchemaOf(parsed.value), parsed.value);
    if (!result.success) {
      return refuse(core, conn, "BAD_REQUEST", simpleErrorFrame(idOf(parsed.value), "BAD_REQUEST", "Frame does not match protocol v1", toIssues(result.issues)));
    }
    frame = result.output;
  }
  const unsafe = framePayloadProblem(frame, attachments);
  if (unsafe !== undefined) {
    return refuse(core, conn, "BAD_REQUEST", simpleErrorFrame("id" in frame ? frame.id : null, "BAD_REQUEST", `Frame refused: ${unsafe}`));
  }
  if (attachments === undefined) return dispatch(core, conn, frame);
  // A binary frame's payloads are decoded while it is dispatched (before any await), with its attachments at hand.
  const valid = frame;
  readingFrame(attachments, () => dispatch(core, conn, valid));
}

/** Runs a valid client frame. */
function dispatch<A>(core: Core<A>, conn: Connection<A>, frame: ClientFrame): void {
  switch (frame.type) {
    case "call":
      return runCall(core, conn, frame);
    case "cancel":
      // No answer of its own: the call is answered CANCELLED (or already was); a cancel naming no call in flight is ignored.
      return conn.inflight.get(frame.id)?.abort(new RpcError("CANCELLED", "Call cancelled by the client"));
    case "subscribe":
      return subscribe(core, conn, frame);
    case "unsubscribe":
      return unsubscribe(core, conn, frame);
    case "publish":
      return void clientPublish(core, conn, frame);
    case "auth":
      return void reauthenticate(core, conn, frame.id, frame.token);
    case "ping":
      return void conn.send(frame.ts === undefined ? PONG : JSON.stringify({ type: "pong", ts: frame.ts }));
    case "pong":
      return;
    case "result":
    case "error":
      return core.clientCalls.answered(conn, frame);
  }
}

/**
 * A frame over the rate: every refusal is counted, only the first of its window is answered (so a
 * flood is not met with a flood of error frames), and an abusive connection is closed with 1008.
 */
function refuseRate<A>(core: Core<A>, conn: Connection<A>, admission: "answered" | "dropped" | "abusive"): void {
  core.metrics.reject("TOO_MANY_REQUESTS");
  if (admission === "answered") {
    return void conn.send(simpleErrorFrame(null, "TOO_MANY_REQUESTS", `Too many frames: frames over the rate are dropped for up to ${REFUSAL_WINDOW} ms, slow down`));
  }
  if (admission === "abusive") {
    core.logger.info("rate limit abuse: closing", { connection: conn.id, ip: conn.ip });
    conn.close(CloseCode.POLICY, "rate limit exceeded");
  }
}

/** Sends an error frame for a frame refused before dispatch, and counts it. */
function refuse<A>(core: Core<A>, conn: Connection<A>, code: "BAD_REQUEST" | "TOO_MANY_REQUESTS", frame: string): void {
  core.metrics.reject(code);
  conn.send(frame);
}

/** The schema that validates a parsed frame: its type's own, or the whole variant (for its error) when the type is unknown. */
function frameSchemaOf(value: unknown): v.GenericSchema<unknown, ClientFrame> {
  const type = typeof value === "object" && value !== null ? (value as { type?: unknown }).type : undefined;
  return FRAME_SCHEMAS.get(type) ?? ClientFrame;
}

/** Replaces a connection's auth in-band; subscriptions stay. */
async function reauthenticate<A>(core: Core<A>, conn: Connection<A>, id: string | number, token: string): Promise<void> {
  const request = PendingRequest.claim(conn as Connection, id);
  if (request === undefined) return;
  try {
    if (core.options.reauthenticate === undefined) throw new RpcError("NOT_FOUND", "This server does not accept in-band authentication");
    conn.auth = await core.options.reauthenticate(token, conn.auth);
    // Like a publish's, the answer has no value: a result without output (PROTOCOL.md section 6).
    request.answer(JSON.stringify({ type: "result", id }));
  } catch (error) {
    const e = error instanceof RpcError ? error : new RpcError("UNAUTHORIZED", "Authentication failed");
    request.answer(simpleErrorFrame(id, e.code, e.message));
  }
}

/** The error frame for a frame that could not be parsed. */
function faultFrame(fault: "too-large" | "too-deep" | "malformed", limits: Limits): string {
  if (fault === "too-large") return simpleErrorFrame(null, "PAYLOAD_TOO_LARGE", `Frame exceeds ${limits.maxFrameBytes} characters`);
  if (fault === "too-deep") return simpleErrorFrame(null, "PAYLOAD_TOO_LARGE", `Frame nests deeper than ${limits.maxDepth} levels`);
  return simpleErrorFrame(null, "PARSE_ERROR", "Frame is not valid JSON");
}

/** The request id of a frame that failed validation, when it has a usable one. */
function idOf(value: unknown): string | number | null {
  if (typeof value !== "object" || value === null) return null;
  const id = (value as { id?: unknown }).id;
  if (typeof id === "number" && Number.isSafeInteger(id) && id >= 0) return id;
  if (typeof id === "string" && id.length <= 64) return id;
  return null;
}
