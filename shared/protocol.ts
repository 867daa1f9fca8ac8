/**
 * Wire protocol v1: every frame as a valibot schema, the version, the subprotocol and the close codes.
 * PROTOCOL.md is the prose form of this file; change both together.
 * @module
 */
import * as v from "valibot";
import type { ErrorCode, Issue } from "./errors.ts";
import type { Payload } from "./codec.ts";
import type { PROTOCOL_VERSION } from "./version.ts";

export { CloseCode } from "./close-codes.ts";
export { PROTOCOL_VERSION, SUBPROTOCOL } from "./version.ts";

/** The longest string request id, in characters (a number id is any non-negative safe integer). */
export const MAX_ID_LENGTH = 64;

/** The longest procedure or topic name, in characters. */
export const MAX_NAME_LENGTH = 256;

/** The longest idempotency key of a call, in characters. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128;

/** A request id chosen by the client: a non-negative safe integer or a string of at most {@link MAX_ID_LENGTH} characters. */
const Id = v.union([
  v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  v.pipe(v.string(), v.maxLength(MAX_ID_LENGTH)),
]);

/** A dotted procedure or topic name such as `chat.send`. */
const Name = v.pipe(v.string(), v.maxLength(MAX_NAME_LENGTH));

/** A superjson payload as carried in a frame. */
const PayloadSchema = v.object({
  json: v.unknown(),
  meta: v.optional(v.record(v.string(), v.unknown())),
});

/** A position in a topic instance's history: the epoch it belongs to and the last offset seen. */
const Position = v.object({ epoch: v.pipe(v.string(), v.maxLength(64)), offset: v.pipe(v.number(), v.safeInteger(), v.minValue(0)) });

/** Client -> server: run a procedure. */
export const CallFrame = v.object({
  type: v.literal("call"),
  id: Id,
  method: Name,
  input: v.optional(PayloadSchema),
  /** Optional key that makes a retried call return the first result instead of running twice. */
  idempotencyKey: v.optional(v.pipe(v.string(), v.maxLength(MAX_IDEMPOTENCY_KEY_LENGTH))),
});

/** Client -> server: abort the call with this id. */
export const CancelFrame = v.object({ type: v.literal("cancel"), id: Id });

/** Client -> server: start receiving events of one topic instance. */
export const SubscribeFrame = v.object({
  type: v.literal("subscribe"),
  id: Id,
  topic: Name,
  params: v.optional(PayloadSchema),
  /** Where the client stopped last time; the server replays what came after, if it still can. */
  since: v.optional(Position),
});

/** Client -> server: stop receiving events of one topic instance. */
export const UnsubscribeFrame = v.object({
  type: v.literal("unsubscribe"),
  id: Id,
  topic: Name,
  key: v.pipe(v.string(), v.maxLength(4096)),
});

/** Client -> server: publish a message to a topic instance (only where the topic allows it). */
export const PublishFrame = v.object({
  type: v.literal("publish"),
  id: Id,
  topic: Name,
  params: v.optional(PayloadSchema),
  data: v.optional(PayloadSchema),
});

/** Client -> server: replace the connection's credentials in-band (subscriptions are kept). */
export const AuthFrame = v.object({ type: v.literal("auth"), id: Id, token: v.pipe(v.string(), v.maxLength(8192)) });

/** Either side: liveness probe; `ts` is echoed back in the pong. */
export const PingFrame = v.object({ type: v.literal("ping"), ts: v.optional(v.number()) });

/** Either side: answer to a ping, echoing its `ts`. */
export const PongFrame = v.object({ type: v.literal("pong"), ts: v.optional(v.number()) });

/** An id the server chose for a call it makes to the client (its own id space: a positive safe integer). */
const ServerId = v.pipe(v.number(), v.safeInteger(), v.minValue(1));

/** Client -> server: the output of a procedure the server called on the client (section 3.1). */
export const AnswerFrame = v.object({ type: v.literal("result"), id: ServerId, output: v.optional(PayloadSchema) });

/** Client -> server: the failure of a procedure the server called on the client (section 3.1). */
export const FailureFrame = v.object({
  type: v.literal("error"),
  id: ServerId,
  code: v.pipe(v.string(), v.maxLength(64)),
  message: v.pipe(v.string(), v.maxLength(1024)),
  data: v.optional(PayloadSchema),
});

/** Every frame a client may send. */
export const ClientFrame = v.variant("type", [
  CallFrame,
  CancelFrame,
  SubscribeFrame,
  UnsubscribeFrame,
  PublishFrame,
  AuthFrame,
  PingFrame,
  PongFrame,
  AnswerFrame,
  FailureFrame,
]);

/** A frame a client may send, as validated. */
export type ClientFrame = v.InferOutput<typeof ClientFrame>;

/** The limits a server enforces, announced in its hello. */
export interface Limits {
  /** Largest text frame accepted, in UTF-16 code units. */
  maxFrameBytes: number;
  /** Deepest nesting of arrays and objects in a frame. */
  maxDepth: number;
  /** Calls a connection may have running at once. */
  maxInFlight: number;
  /** Topic instances a connection may be subscribed to at once. */
  maxSubscriptions: number;
  /** Frames per second a connection may send on average (token bucket refill rate). */
  ratePerSecond: number;
  /** Frames a connection may send in one burst (token bucket size). */
  rateBurst: number;
}

/** Server -> client, first frame on every connection. */
export interface HelloFrame {
  type: "hello";
  version: typeof PROTOCOL_VERSION;
  connectionId: string;
  heartbeat: { interval: number; timeout: number };
  limits: Limits;
}

/** Server -> client: a call's output, or the acceptance of a publish. */
export interface ResultFrame {
  type: "result";
  id: string | number;
  /** The call's return value; absent in the answer to a publish, which returns nothing. */
  output?: Payload;
}

/** Server -> client: a call, subscription, publish or frame failed; `id` is null when unknown. */
export interface ErrorFrame {
  type: "error";
  id: string | number | null;
  /** A protocol code, or an application code the called procedure declared (PROTOCOL.md §7). */
  code: ErrorCode | (string & Record<never, never>);
  message: string;
  data?: Payload;
  issues?: Issue[];
}

/** Server -> client: a subscription is live; `key` names the topic instance in later events. */
export interface SubscribedFrame {
  type: "subscribed";
  id: string | number;
  topic: string;
  key: string;
  epoch: string;
  offset: number;
  /** Present when the subscribe asked for `since`: whether every missed event was replayed. */
  recovered?: boolean;
}

/** Server -> client: a subscription ended (`id` null when the server ended it). */
export interface UnsubscribedFrame {
  type: "unsubscribed";
  id: string | number | null;
  topic: string;
  key: string;
}

/** Server -> client: one message of a topic instance, identical for every subscriber. */
export interface EventFrame {
  type: "event";
  topic: string;
  key: string;
  /** Position in the instance's history; absent for targeted (room, except, one-connection) sends. */
  offset?: number;
  data: Payload;
}

/** Presence metadata of one member key: one entry per connection (tab) of that member. */
export type PresenceMetas = Record<string, Payload>;

/** Server -> client: presence of a topic instance, a full `state` or a batched `joins`/`leaves` diff. */
export interface PresenceFrame {
  type: "presence";
  topic: string;
  key: string;
  state?: Record<string, PresenceMetas>;
  joins?: Record<string, PresenceMetas>;
  leaves?: Record<string, PresenceMetas>;
  /** Members present; the only field for topics in counts-only mode. */
  count: number;
}

/** Server -> client: run a procedure of the contract's `client` section; ids are the server's own (section 3.1). */
export interface ServerCallFrame {
  type: "call";
  id: number;
  method: string;
  input?: Payload;
}

/** Server -> client: stop the server's call with this id (timed out or cancelled); no answer is expected. */
export interface ServerCancelFrame {
  type: "cancel";
  id: number;
}

/** Every frame a server may send. */
export type ServerFrame =
  | HelloFrame
  | ResultFrame
  | ErrorFrame
  | SubscribedFrame
  | UnsubscribedFrame
  | EventFrame
  | PresenceFrame
  | ServerCallFrame
  | ServerCancelFrame
  | v.InferOutput<typeof PingFrame>
  | v.InferOutput<typeof PongFrame>;
