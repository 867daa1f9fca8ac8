/**
 * Subscribe, unsubscribe and client publish: validation, authorization, recovery, presence.
 * @module
 */
import * as v from "valibot";
import { decode, encode, type Payload, topicKey } from "../shared/codec.ts";
import type { AnyTopic, ContractTree } from "../shared/contract.ts";
import { RpcError } from "../shared/errors.ts";
import type { PublishFrame, SubscribedFrame, SubscribeFrame, UnsubscribeFrame } from "../shared/protocol.ts";
import type { PresenceChange, Recovery, StreamPosition } from "./broker/broker.ts";
import { through } from "./calls.ts";
import type { Connection, Subscription } from "./connection.ts";
import { CallContext } from "./context.ts";
import { errorFrame, simpleErrorFrame, toIssues } from "./error-frame.ts";
import type { Core } from "./service.ts";
import { channelOf, eventFrame } from "./topics.ts";

type Validated = { ok: true; value: unknown } | { ok: false };

/** Decodes and validates a payload against an optional schema, answering the error itself. */
function validate(conn: Connection, id: string | number, schema: AnyTopic["params"], payload: Payload | undefined, what: string): Validated {
  let value: unknown;
  try {
    value = decode(payload);
  } catch {
    conn.send(simpleErrorFrame(id, "BAD_REQUEST", `${what}: not a valid superjson payload`));
    return { ok: false };
  }
  if (schema === undefined) return { ok: true, value };
  const parsed = v.safeParse(schema, value);
  if (!parsed.success) {
    conn.send(simpleErrorFrame(id, "INVALID_INPUT", `${what}: failed validation`, toIssues(parsed.issues)));
    return { ok: false };
  }
  return { ok: true, value: parsed.output };
}

/** Handles a subscribe frame: answers `subscribed` (then replays history) or an error. */
export async function subscribe<A>(core: Core<A>, conn: Connection<A>, frame: v.InferOutput<typeof SubscribeFrame>): Promise<void> {
  const { id, topic } = frame;
  const entry = core.topics.get(topic);
  if (entry === undefined) return void conn.send(simpleErrorFrame(id, "NOT_FOUND", `Unknown topic "${topic}"`));
  if (conn.subscriptions.size >= core.options.limits.maxSubscriptions) {
    return void conn.send(
      simpleErrorFrame(id, "TOO_MANY_REQUESTS", `Cannot subscribe to "${topic}": at most ${core.options.limits.maxSubscriptions} subscriptions`),
    );
  }
  const params = validate(conn, id, entry.def.params, frame.params, `Cannot subscribe to "${topic}": params`);
  if (!params.ok) return;
  const key = topicKey(params.value);
  const channel = channelOf(topic, key);
  const ctx = new CallContext<ContractTree, A>(conn, core.rooms, core.publisher, conn.closed);

  if (!conn.subscriptions.has(channel)) {
    try {
      const allowed = await through(core.chain(topic), { kind: "subscribe", path: topic, input: params.value, ctx }, () =>
        entry.hooks.authorize === undefined ? true : entry.hooks.authorize(params.value, ctx));
      if (allowed !== true) throw new RpcError("FORBIDDEN", `Cannot subscribe to "${topic}": not allowed`);
    } catch (error) {
      return void conn.send(errorFrame(id, error, core.options.dev));
    }
  }
  if (!conn.open) return;
  const existing = conn.subscriptions.get(channel);
  if (existing !== undefined) {
    const position = await core.broker.position(channel);
    return void conn.send(JSON.stringify({ type: "subscribed", id, topic, key, ...position } satisfies SubscribedFrame));
  }

  const sub: Subscription = { topic, key, params: params.value, held: [], presenceKey: undefined };
  conn.subscriptions.set(channel, sub);
  const first = !core.registry.has(channel);
  core.registry.addRecovering(conn as Connection, channel);
  let recovery: Recovery | undefined;
  let position: StreamPosition;
  try {
    if (first) await core.broker.listen(channel);
    if (frame.since === undefined) position = await core.broker.position(channel);
    else ({ position } = recovery = await core.broker.recover(channel, frame.since));
  } catch {
    removeSubscription(core, conn, channel);
    return void conn.send(simpleErrorFrame(id, "INTERNAL", `Cannot subscribe to "${topic}": the broker is unavailable`));
  }
  if (conn.subscriptions.get(channel) !== sub) return;

  const ack: SubscribedFrame = { type: "subscribed", id, topic, key, ...position };
  if (recovery !== undefined) ack.recovered = recovery.recovered;
  conn.send(JSON.stringify(ack));
  let last = 0;
  for (const message of recovery?.messages ?? []) {
    conn.send(eventFrame(message));
    last = message.offset ?? last;
  }
  // Frames published while the history was read: send those not already replayed, then go live.
  for (const held of sub.held ?? []) if (held.offset === undefined || held.offset > last) conn.send(held.frame);
  sub.held = null;
  core.registry.goLive(conn as Connection, channel);

  if (entry.def.presence !== undefined) trackPresence(core, conn, entry.def, entry.hooks.presence?.(params.value, ctx), sub, channel);
  try {
    await entry.hooks.onSubscribe?.(params.value, ctx);
  } catch {
    // A failing onSubscribe hook must not undo a subscription the client was told about.
  }
}

/** Adds a subscriber to presence and sends it the current state. */
function trackPresence<A>(
  core: Core<A>,
  conn: Connection<A>,
  def: AnyTopic,
  entry: { key: string; meta: unknown } | undefined,
  sub: Subscription,
  channel: string,
): void {
  if (entry !== undefined) {
    const meta = v.parse(def.presence!, entry.meta);
    sub.presenceKey = entry.key;
    const countsOnly = def.presenceMode === "counts";
    changePresence(core, { channel, topic: sub.topic, key: sub.key, countsOnly, member: entry.key, connectionId: conn.id, meta: encode(meta), join: true });
  }
  const snapshot = core.presence.snapshot(channel) ?? { type: "presence", topic: sub.topic, key: sub.key, count: 0, state: {} };
  if (def.presenceMode === "counts") delete snapshot.state;
  conn.send(JSON.stringify(snapshot));
}

/** A join or leave made here: into this instance's presence, and out to the others (Redis broker). */
function changePresence<A>(core: Core<A>, change: PresenceChange): void {
  core.presence.apply(change);
  core.broker.presence?.announce(change).catch(() => {});
}

/** Handles an unsubscribe frame; unsubscribing twice is not an error. */
export function unsubscribe<A>(core: Core<A>, conn: Connection<A>, frame: v.InferOutput<typeof UnsubscribeFrame>): void {
  removeSubscription(core, conn, channelOf(frame.topic, frame.key));
  conn.send(JSON.stringify({ type: "unsubscribed", id: frame.id, topic: frame.topic, key: frame.key }));
}

/** Ends every subscription of a closing connection. */
export function unsubscribeAll<A>(core: Core<A>, conn: Connection<A>): void {
  for (const channel of [...conn.subscriptions.keys()]) removeSubscription(core, conn, channel);
}

function removeSubscription<A>(core: Core<A>, conn: Connection<A>, channel: string): void {
  const sub = conn.subscriptions.get(channel);
  if (sub === undefined) return;
  conn.subscriptions.delete(channel);
  core.registry.remove(conn as Connection, channel);
  const entry = core.topics.get(sub.topic);
  if (sub.presenceKey !== undefined) {
    const countsOnly = entry?.def.presenceMode === "counts";
    changePresence(core, { channel, topic: sub.topic, key: sub.key, countsOnly, member: sub.presenceKey, connectionId: conn.id, join: false });
  }
  if (!core.registry.has(channel)) {
    const done = core.broker.unlisten(channel);
    if (done instanceof Promise) done.catch(() => {});
  }
  try {
    entry?.hooks.onUnsubscribe?.(sub.params, new CallContext(conn, core.rooms, core.publisher, conn.closed));
  } catch {
    // The subscription is gone whatever the hook does.
  }
}

/** Handles a client publish: validated, authorized, sent to every other subscriber; answers with a result without output. */
export async function clientPublish<A>(core: Core<A>, conn: Connection<A>, frame: v.InferOutput<typeof PublishFrame>): Promise<void> {
  const { id, topic } = frame;
  const entry = core.topics.get(topic);
  if (entry === undefined) return void conn.send(simpleErrorFrame(id, "NOT_FOUND", `Unknown topic "${topic}"`));
  if (!entry.def.clientPublish) {
    return void conn.send(simpleErrorFrame(id, "FORBIDDEN", `Cannot publish to "${topic}": clients may not publish to it`));
  }
  const params = validate(conn, id, entry.def.params, frame.params, `Cannot publish to "${topic}": params`);
  if (!params.ok) return;
  const message = validate(conn, id, entry.def.message, frame.data, `Cannot publish to "${topic}": message`);
  if (!message.ok) return;
  const ctx = new CallContext<ContractTree, A>(conn, core.rooms, core.publisher, conn.closed);
  try {
    const allowed = await through(core.chain(topic), { kind: "publish", path: topic, input: message.value, ctx }, () =>
      entry.hooks.authorizePublish === undefined ? true : entry.hooks.authorizePublish(params.value, message.value, ctx));
    if (allowed !== true) throw new RpcError("FORBIDDEN", `Cannot publish to "${topic}": not allowed`);
    await core.publishValid(topic, params.value, message.value, { except: conn.id });
    // A publish has no value to return: its result carries no output (PROTOCOL.md section 4).
    conn.send(JSON.stringify({ type: "result", id }));
  } catch (error) {
    conn.send(errorFrame(id, error, core.options.dev));
  }
}
