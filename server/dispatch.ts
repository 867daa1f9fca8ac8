/**
 * One frame from a client, from text to its handler: rate limit, size and depth, forbidden keys,
 * the frame schema, safe payloads, then dispatch by type. Every refusal answers per PROTOCOL.md.
 * @module
 */
import * as v from "valibot";
import { followingOf, unpackFrame } from "../shared/binary-frame.ts";
import { parseFrame, readingFrame } from "../shared/codec.ts";
import { RpcError } from "../shared/errors.ts";
import { BEAT } from "../shared/heartbeat.ts";
import { ClientFrame, CloseCode, type Limits } from "../shared/protocol.ts";
import { forbiddenKey } from "../shared/forbidden-keys.ts";
import { framePayloadProblem } from "../shared/safe-decode.ts";
import { isId, plainCallFrame } from "./call-frame.ts";
import { runCall } from "./calls.ts";
import { type Connection, REFUSAL_WINDOW } from "./connection.ts";
import { simpleErrorFrame, toIssues } from "./error-frame.ts";
import { OVERSIZE_CLOSE_FACTOR } from "./options.ts";
import type { Core } from "./core.ts";
import { PendingRequest } from "./requests.ts";
import { subscribe } from "./subscribe.ts";
import { clientPublish, unsubscribe } from "./subscriptions.ts";
import { turnNow } from "./turn-clock.ts";


/** Each client frame's schema by its `type`: validating one object schema skips the variant's search, which allocates a Set per frame. */
const FRAME_SCHEMAS = new Map<unknown, v.GenericSchema<unknown, ClientFrame>>(ClientFrame.options.map((schema) => [schema.entries.type.literal, schema]));

/**
 * A split frame being received (PROTOCOL.md section 1.1): its head was read, its attachments are
 * arriving. `attachments` is undefined when the frame was refused at its head (rate, size): what
 * follows is skipped, not read.
 */
interface Assembly {
  /** The head's JSON text. */
  text: string;
  /** The lengths of the attachments announced by the head. */
  following: number[];
  /** The attachments received so far; undefined while skipping a refused frame's. */
  attachments: Uint8Array[] | undefined;
}

/** Split frames being received, by connection (weak: a closed connection takes its own with it). */
const assembling = new WeakMap<Connection<unknown>, Assembly>();

/** Handles one WebSocket message a client sent: a frame, a split frame's head, or one of its attachments. */
export function receive<A>(core: Core<A>, conn: Connection<A>, data: string | ArrayBuffer | Uint8Array): void {
  // Frames that arrive after the server's close frame are not read (the runtime may still deliver a few).
  if (!conn.open) return;
  // One clock read per turn, not per message: it is also the start of a call's latency (calls.ts).
  const now = turnNow();
  conn.lastSeen = now;
  const assembly = assembling.get(conn);
  if (assembly !== undefined && attach(core, conn, assembly, data)) return;
  const { limits } = core.options;
  const bytes = typeof data === "string" ? undefined : data instanceof Uint8Array ? data : new Uint8Array(data);
  // A split frame's head announces how many of the messages after it are its attachments: a refused head's are skipped.
  const following = bytes === undefined ? undefined : followingOf(bytes);
  // Every frame pays its token before anything else is looked at, binary and oversized ones included.
  const admission = conn.admit(now);
  if (admission !== "accepted") {
    if (following !== undefined) skip(conn, following);
    return refuseRate(core, conn, admission);
  }
  // The client's beat (PROTOCOL.md section 6), one per connection per interval: nothing to parse or answer.
  if (data === BEAT) return;
  // A binary frame's limit is on its bytes, attachments included: a split frame's head and the attachments it announces (PROTOCOL.md section 1.1).
  const size = bytes === undefined ? (data as string).length : bytes.byteLength + (following?.reduce((n, length) => n + length, 0) ?? 0);
  if (size > limits.maxFrameBytes * OVERSIZE_CLOSE_FACTOR) {
    core.metrics.reject("PAYLOAD_TOO_LARGE");
    return conn.close(CloseCode.TOO_BIG, "frame too large");
  }
  if (bytes === undefined) return read(core, conn, data as string, undefined);
  if (size > limits.maxFrameBytes) {
    if (following !== undefined) skip(conn, following);
    core.metrics.reject("PAYLOAD_TOO_LARGE");
    return void conn.send(faultFrame("too-large", limits));
  }
  const unpacked = unpackFrame(bytes);
  if (unpacked === undefined) {
    if (following !== undefined) skip(conn, following);
    return refuse(core, conn, "BAD_REQUEST", simpleErrorFrame(null, "BAD_REQUEST", "Binary frame is malformed: its lengths do not add up or its text is not UTF-8"));
  }
  if (following === undefined || following.length === 0) return read(core, conn, unpacked.text, unpacked.attachments);
  assembling.set(conn as Connection, { text: unpacked.text, following, attachments: [] });
}

/** Skips the attachments that follow a split frame's head refused before it was read. */
function skip<A>(conn: Connection<A>, following: number[]): void {
  if (following.length > 0) assembling.set(conn as Connection, { text: "", following, attachments: undefined });
}

/**
 * Takes one message as the next attachment of the split frame being received, and reads the frame
 * once it is whole. False when the message is not that attachment (text, or another length): the
 * frame is answered BAD_REQUEST and the message is read as a frame of its own.
 */
function attach<A>(core: Core<A>, conn: Connection<A>, assembly: Assembly, data: string | ArrayBuffer | Uint8Array): boolean {
  const received = assembly.attachments?.length ?? 0;
  if (typeof data === "string" || data.byteLength !== assembly.following[received]) {
    assembling.delete(conn as Connection);
    if (assembly.attachments !== undefined) {
      refuse(core, conn, "BAD_REQUEST", simpleErrorFrame(null, "BAD_REQUEST", "Binary frame is malformed: its attachments did not follow its head"));
    }
    return false;
  }
  if (assembly.attachments === undefined) {
    // Skipping: a refused frame's attachments are counted, not kept.
    assembly.following = assembly.following.slice(1);
    if (assembly.following.length === 0) assembling.delete(conn as Connection);
    return true;
  }
  // A plain Uint8Array view whatever the message's class (Bun hands out Buffers).
  assembly.attachments.push(data instanceof Uint8Array ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data));
  if (assembly.attachments.length < assembly.following.length) return true;
  assembling.delete(conn as Connection);
  read(core, conn, assembly.text, assembly.attachments);
  return true;
}

/** Reads one whole frame (its JSON text, and a binary frame's attachments): depth, forbidden keys, schema, payloads, then dispatch. */
function read<A>(core: Core<A>, conn: Connection<A>, text: string, attachments: Uint8Array[] | undefined): void {
  const { limits } = core.options;
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
      return void conn.send(frame.ts === undefined ? BEAT : JSON.stringify({ type: "pong", ts: frame.ts }));
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
  return isId(id) ? id : null;
}
