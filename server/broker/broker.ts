/**
 * The broker contract: how topic messages travel between instances and where history lives.
 * The service never knows which broker it has.
 * @module
 */
import type { Payload } from "../../shared/codec.ts";
import type { HistoryOptions } from "../../shared/contract.ts";
import type { Target } from "../target.ts";
import type { SharedOutcomes } from "../idempotency.ts";
import type { Logger } from "../log.ts";

/** One topic message as brokers carry it. */
export interface BrokerMessage {
  /** Dotted topic name. */
  topic: string;
  /** Canonical params key of the topic instance. */
  key: string;
  /** The encoded message. */
  data: Payload;
  /** Position in the instance's history; set by the broker for untargeted publishes. */
  offset?: number;
  /** Restricts delivery; room- or connection-targeted and volatile messages get no offset and no history. */
  target?: Target;
}

/** A topic instance's current position: the epoch of its history and its last offset. */
export interface StreamPosition {
  /** Changes whenever the instance's history was lost (restart, expiry); offsets restart with it. */
  epoch: string;
  /** Offset of the last message published, 0 before the first. */
  offset: number;
}

/** What a recovery read found. */
export interface Recovery {
  /** Whether `messages` hold every message after the asked position. */
  recovered: boolean;
  /** The instance's position now. */
  position: StreamPosition;
  /** Messages after the asked position, oldest first (empty when not recovered). */
  messages: BrokerMessage[];
}

/** Receives every message this instance must deliver to its local subscribers. */
export type Deliver = (channel: string, message: BrokerMessage) => void;

/** Told that a channel lost messages this instance cannot recover: its subscribers must resubscribe. */
export type Reset = (channel: string) => void;

/** One connection joining or leaving a topic instance's presence. */
export interface PresenceChange {
  /** The broker channel of the topic instance. */
  channel: string;
  /** The topic's contract path. */
  topic: string;
  /** The topic instance's key (canonical JSON of its params). */
  key: string;
  /** The topic's presence mode is "counts". */
  countsOnly: boolean;
  /** The member's key, as the topic's `presence` hook returned it. */
  member: string;
  /** The connection that joined or left. */
  connectionId: string;
  /** Encoded metadata (joins only). */
  meta?: Payload;
  /** A join (true) or a leave (false). */
  join: boolean;
}

/** Presence shared between instances: local changes go out, other instances' changes come in. */
export interface SharedPresence {
  /** Tells every other instance listening to the channel about a local join or leave. */
  announce(change: PresenceChange): Promise<void>;
}

/** Receives presence changes made on other instances, for channels this instance listens to. */
export type RemotePresence = (change: PresenceChange) => void;

/**
 * Carries HTTP fallback POST bodies to the instance holding their session (no sticky sessions):
 * each instance listens on a channel of its own.
 */
export interface SessionRelay {
  /** This instance's id, the prefix of the session tokens it issues. */
  readonly instance: string;
  /** Starts receiving what other instances forward to this one. */
  listen(receive: (message: string) => void): Promise<void>;
  /** Sends a message to another instance's channel; false when no instance listens there (it is gone). */
  forward(instance: string, message: string): Promise<boolean>;
}

/** What a cluster request gathered: the other instances' answers, and how many did not answer in time. */
export interface ClusterAnswers {
  /** One answer per instance that answered, in arrival order. */
  answers: unknown[];
  /** Instances that received the request but did not answer within the broker's bound. */
  missing: number;
}

/**
 * Carries the service's cluster-wide queries and actions (room members, join, disconnect...) to every
 * other instance and brings their answers back; requests and answers are JSON values.
 */
export interface ClusterRelay {
  /** Starts answering other instances' requests with `answer` (what it returns is sent back). */
  listen(answer: (request: unknown) => unknown): Promise<void>;
  /** Sends a request to every other live instance and waits, within the broker's bound, for their answers. */
  ask(request: unknown): Promise<ClusterAnswers>;
}

/** A client's answer to a server-to-client call, as it travels (between instances too): its output, or its error's parts. */
export type ClientAnswer = { ok: true; output?: Payload | undefined } | { ok: false; code: string; message: string; data?: Payload | undefined };

/** A server-to-client call sent to the instance that holds the connection. */
export interface RelayedClientCall {
  /** The connection the call is for. */
  connection: string;
  /** The procedure's path in the contract's `client` section. */
  method: string;
  /** The input, validated and encoded (a payload's JSON text). */
  input: string;
  /** Milliseconds the holding instance waits for the client's answer. */
  timeout: number;
}

/**
 * Carries server-to-client calls to the instance holding the connection and brings the client's
 * answer back (`service.client(id)` for a connection of another instance).
 */
export interface ClientCallRelay {
  /**
   * Starts running other instances' calls with `run`, which returns undefined when the connection
   * is not on this instance; its signal aborts when the asker cancels.
   */
  listen(run: (call: RelayedClientCall, signal: AbortSignal) => Promise<ClientAnswer> | undefined): Promise<void>;
  /**
   * Sends a call to every other instance; resolves to the holder's answer, to undefined when no
   * instance holds the connection, or to a TIMEOUT answer when the holder went silent for longer
   * than the call's timeout and the broker's bound. Aborting `signal` cancels it on the holder.
   */
  call(call: RelayedClientCall, signal: AbortSignal | undefined): Promise<ClientAnswer | undefined>;
}

/** Moves messages between instances and keeps per-instance history; memory or Redis. */
export interface Broker {
  /**
   * Starts the broker; `deliver` receives every message for channels this instance listens to, in
   * offset order; `reset` is called when a channel lost messages (the memory broker never does);
   * `logger` receives changes of the backend link's state (the service's logger).
   */
  start(deliver: Deliver, reset?: Reset, remotePresence?: RemotePresence, logger?: Logger): Promise<void> | void;
  /** Presence sharing; absent when presence is per instance (the memory broker). */
  readonly presence?: SharedPresence;
  /** Idempotency outcomes shared between instances; absent in memory (the service keeps its own). */
  readonly outcomes?: SharedOutcomes;
  /** Routes HTTP fallback POSTs between instances; absent with one instance (the memory broker). */
  readonly sessions?: SessionRelay;
  /** Reaches the other instances for `service.cluster`; absent with one instance (the memory broker). */
  readonly cluster?: ClusterRelay;
  /** Reaches the instance holding a connection for `service.client(id)`; absent with one instance (the memory broker). */
  readonly clientCalls?: ClientCallRelay;
  /**
   * Publishes to a channel; untargeted messages get an offset and, if `history`, are kept. A
   * returned promise rejects when the backend did not take the message (nobody will receive it).
   */
  publish(channel: string, message: BrokerMessage, history: HistoryOptions | false): void | Promise<void>;
  /** Starts listening to a channel (first local subscriber). */
  listen(channel: string): void | Promise<void>;
  /** Stops listening to a channel (last local subscriber gone). */
  unlisten(channel: string): void | Promise<void>;
  /** The channel's position, for a new subscription. */
  position(channel: string): StreamPosition | Promise<StreamPosition>;
  /** Messages after `since`, if the history still reaches back that far in the same epoch. */
  recover(channel: string, since: StreamPosition): Recovery | Promise<Recovery>;
  /**
   * The position this instance's delivery has reached on a channel it listens to: every later
   * message still reaches `deliver`. Brokers whose `position` can run ahead of their own delivery
   * (Redis: pub/sub arrives after the offset is counted) implement it; absent, `position` is that.
   */
  delivered?(channel: string): StreamPosition | undefined;
  /** Whether the broker's link to its backend works now: connected and answering (always true in memory). */
  healthy(): boolean;
  /** Counters since start (camelCase names), exported on `/metrics` as `tether_broker_<name>_total`. */
  metrics?(): Readonly<Record<string, number>>;
  /** Stops the broker and releases its connections and timers. */
  close(): Promise<void>;
}

/** The history options applied where a topic says `{}` or leaves a field out. */
export const DEFAULT_HISTORY: Required<HistoryOptions> = { size: 100, maxAge: 300_000 };

/** The broker's lines of the Prometheus text exposition: `tether_broker_up` and its counters. */
export function renderBrokerMetrics(broker: Broker): string {
  const out = ["# HELP tether_broker_up Whether the broker reaches its backend", "# TYPE tether_broker_up gauge"];
  out.push(`tether_broker_up ${broker.healthy() ? 1 : 0}`);
  for (const [name, value] of Object.entries(broker.metrics?.() ?? {})) {
    const metric = `tether_broker_${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_total`;
    out.push(`# TYPE ${metric} counter`, `${metric} ${value}`);
  }
  return `${out.join("\n")}\n`;
}

/** Whether a message with this target gets an offset and history: untargeted, or only `except`, and not volatile. */
export function isStreamed(target: Target | undefined): boolean {
  return target === undefined || (target.room === undefined && target.connection === undefined && target.volatile !== true);
}
