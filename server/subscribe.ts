/**
 * Subscribe: validation, the subscription limit, authorization, then the position announced in
 * `subscribed`, history replay, and going live without losing or repeating an offset.
 *
 * The rule (PROTOCOL.md §4): the offset announced in `subscribed` is the last one before the first
 * event the subscription delivers live; replayed events (with `since`) lead up to it without a gap.
 * Messages published while a subscribe waits for the broker are held for it from the moment it is
 * registered, so whatever is delivered here after the announced position reaches it, once.
 * @module
 */
import type * as v from "valibot";
import { CloseCode } from "../shared/close-codes.ts";
import { topicKey } from "../shared/codec.ts";
import type { ContractTree } from "../shared/contract.ts";
import { RpcError } from "../shared/errors.ts";
import type { SubscribedFrame, SubscribeFrame } from "../shared/protocol.ts";
import type { BrokerMessage, Recovery, StreamPosition } from "./broker/broker.ts";
import { through } from "./calls.ts";
import type { Connection } from "./connection.ts";
import type { Subscription } from "./subscription-map.ts";
import { keyOf } from "./subscription-map.ts";
import { CallContext } from "./context.ts";
import { errorFrame, simpleErrorFrame } from "./error-frame.ts";
import { inOrder, PendingRequest } from "./requests.ts";
import type { Core } from "./core.ts";
import { removeSubscription, trackPresence, validate } from "./subscriptions.ts";
import { eventFrame } from "./event-frame.ts";
import { channelOf } from "./topics.ts";

type Subscribe = v.InferOutput<typeof SubscribeFrame>;

/** Retry delay advised by the 1013 close of a resubscribe the broker could not take (the Redis broker reconnects every ≤ 1 s). */
const RESUBSCRIBE_RETRY_MS = 1000;
type TopicEntry<A> = Core<A>["topics"] extends Map<string, infer E> ? E : never;

/** Handles a subscribe frame: answers `subscribed` (then replays history) or an error, after any earlier work on the same instance. */
export function subscribe<A>(core: Core<A>, conn: Connection<A>, frame: Subscribe): void {
  const { id, topic } = frame;
  const request = PendingRequest.claim(conn as Connection, id);
  if (request === undefined) return;
  const entry = core.topics.get(topic);
  if (entry === undefined) return request.answer(simpleErrorFrame(id, "NOT_FOUND", `Unknown topic "${topic}"`));
  const params = validate(request, entry.def.params, frame.params, `Cannot subscribe to "${topic}": params`);
  if (!params.ok) return;
  const key = topicKey(params.value);
  const channel = key === "" ? bareChannelOf(entry, topic) : channelOf(topic, key);
  inOrder(conn as Connection, channel, () => subscribeInOrder(core, conn, frame, entry, params.value, key, channel, request), (error) => {
    core.logger.warn("subscribe failed", { connection: conn.id, topic, error: error instanceof Error ? error.message : String(error) });
    request.answer(simpleErrorFrame(id, "INTERNAL", `Cannot subscribe to "${topic}": internal error`));
  });
}

/** The channel of each topic's instance without params, built once: its subscribers share the string. */
const bareChannels = new WeakMap<object, string>();

/** The channel of a topic's instance without params (key ""). */
function bareChannelOf<A>(entry: TopicEntry<A>, topic: string): string {
  let channel = bareChannels.get(entry);
  if (channel === undefined) bareChannels.set(entry, (channel = channelOf(topic, "")));
  return channel;
}

/** The refusal of a new subscription past the connection's limit, or undefined under it. */
function overLimit<A>(core: Core<A>, conn: Connection<A>, topic: string): RpcError | undefined {
  const max = core.options.limits.maxSubscriptions;
  return conn.subscriptions.count() < max ? undefined : new RpcError("TOO_MANY_REQUESTS", `Cannot subscribe to "${topic}": at most ${max} subscriptions`);
}

/** The subscribe itself, once every earlier subscribe or unsubscribe of the instance has finished. */
async function subscribeInOrder<A>(
  core: Core<A>,
  conn: Connection<A>,
  frame: Subscribe,
  entry: TopicEntry<A>,
  params: unknown,
  key: string,
  channel: string,
  request: PendingRequest,
): Promise<void> {
  const { id, topic } = frame;
  if (!conn.open) return;
  const existing = conn.subscriptions.get(channel);
  // Held already, and live (the subscribe that made it has finished): nothing changes, so nothing is refused either.
  if (existing !== undefined) return request.answer(subscribedAgain(core, existing, frame, channel));
  const { hooks } = entry;
  const chain = core.chain(topic);
  // Only hooks and middleware see a context: a topic with none (most) makes none per subscribe.
  const ctx = chain.length === 0 && hooks.authorize === undefined && hooks.presence === undefined && hooks.onSubscribe === undefined
    ? undefined
    : new CallContext<ContractTree, A>(conn, core.rooms, core.publisher, conn.closed);
  const full = overLimit(core, conn, topic);
  if (full !== undefined) return request.answer(errorFrame(id, full, core.options.dev));
  if (ctx !== undefined && (chain.length > 0 || hooks.authorize !== undefined)) {
    try {
      const allowed = await through(chain, { kind: "subscribe", path: topic, input: params, ctx }, () =>
        hooks.authorize === undefined ? true : hooks.authorize(params, ctx));
      if (allowed !== true) throw new RpcError("FORBIDDEN", `Cannot subscribe to "${topic}": not allowed`);
      // Subscribes to other instances may have filled the last places while this one was authorized.
      const filled = overLimit(core, conn, topic);
      if (filled !== undefined) throw filled;
    } catch (error) {
      return request.answer(errorFrame(id, error, core.options.dev));
    }
    if (!conn.open) return;
  }

  const sub: Subscription = { topic, params, held: [], presenceKey: undefined, epoch: "", offset: 0 };
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
    // A resubscribe (with `since`) renews a subscription the client already has: an error would end
    // it for good over a passing outage, and what is published meanwhile would be lost in silence.
    // The connection closes with 1013 instead; the client resubscribes later with the same `since`.
    if (frame.since !== undefined) return conn.close(CloseCode.TRY_AGAIN_LATER, `retry=${RESUBSCRIBE_RETRY_MS}; the broker is unavailable`);
    return request.answer(simpleErrorFrame(id, "INTERNAL", `Cannot subscribe to "${topic}": the broker is unavailable`));
  }
  // Only a close removes it meanwhile: a later unsubscribe of this instance waits for this subscribe.
  if (conn.subscriptions.get(channel) !== sub) return;

  const start = startOf(position, recovery, frame.since, core.broker.delivered?.(channel));
  sub.epoch = start.position.epoch;
  sub.offset = start.position.offset;
  const ack: SubscribedFrame = { type: "subscribed", id, topic, key, ...start.position };
  if (recovery !== undefined) ack.recovered = recovery.recovered;
  request.answer(JSON.stringify(ack));
  let last = start.covered;
  for (const message of start.replay) {
    conn.send(eventFrame(message));
    last = message.offset!;
  }
  // The presence state comes before any live event (PROTOCOL.md section 4, "After subscribed"); a failing
  // presence hook must not leave a subscription the client was told about without its events.
  try {
    if (entry.def.presence !== undefined) trackPresence(core, conn, entry.def, ctx === undefined ? undefined : hooks.presence?.(params, ctx), sub, channel);
  } catch (error) {
    core.logger.warn("presence hook failed", { connection: conn.id, topic, error: error instanceof Error ? error.message : String(error) });
  }
  // Frames delivered here since the subscription was registered: those past what was announced or replayed, then live.
  for (const held of sub.held ?? []) {
    if (held.offset !== undefined && held.offset <= last) continue;
    conn.send(held.frame);
    last = held.offset ?? last;
  }
  sub.held = null;
  sub.offset = Math.max(sub.offset, last);
  core.registry.goLive(conn as Connection, channel);
  if (ctx === undefined || hooks.onSubscribe === undefined) return;
  try {
    await hooks.onSubscribe(params, ctx);
  } catch {
    // A failing onSubscribe hook must not undo a subscription the client was told about.
  }
}

/** Where a new subscription starts: the position to announce, the history to replay after it, and the last offset those cover. */
export interface Start {
  position: StreamPosition;
  replay: BrokerMessage[];
  covered: number;
}

/**
 * Works out where a new subscription starts from what the broker said and how far this instance's
 * own delivery has got. A broker's backend may be ahead of its delivery here (Redis: an offset is
 * counted before its message arrives over pub/sub); messages in between are still on their way and
 * will reach the subscription held or live, so the local position is the one announced and
 * replay stops there.
 */
export function startOf(position: StreamPosition, recovery: Recovery | undefined, since: StreamPosition | undefined, local: StreamPosition | undefined): Start {
  const at = local !== undefined && local.epoch === position.epoch ? local : position;
  if (recovery === undefined || !recovery.recovered || since === undefined) return { position: at, replay: [], covered: at.offset };
  const replay = recovery.messages.filter((m) => m.offset !== undefined && m.offset <= at.offset);
  return { position: at, replay, covered: replay.at(-1)?.offset ?? since.offset };
}

/**
 * The answer to subscribing again to an instance already held: its position as this connection has
 * seen it (the last offset announced or delivered), so the next event still follows it by one.
 * With `since`, `recovered` is true only when `since` is that position: nothing is replayed.
 */
function subscribedAgain<A>(core: Core<A>, sub: Subscription, frame: Subscribe, channel: string): string {
  const offset = Math.max(sub.offset, core.registry.lastOffset(channel) ?? 0);
  const ack: SubscribedFrame = { type: "subscribed", id: frame.id, topic: sub.topic, key: keyOf(sub, channel), epoch: sub.epoch, offset };
  if (frame.since !== undefined) ack.recovered = frame.since.epoch === sub.epoch && frame.since.offset === offset;
  return JSON.stringify(ack);
}
