/**
 * Unsubscribe, client publish and what subscribing shares with them: validation, presence, removal.
 * The subscribe itself is in subscribe.ts.
 * @module
 */
import * as v from "valibot";
import { decode, encode, type Payload } from "../shared/codec.ts";
import type { AnyTopic, ContractTree } from "../shared/contract.ts";
import { RpcError } from "../shared/errors.ts";
import type { PublishFrame, UnsubscribeFrame } from "../shared/protocol.ts";
import type { PresenceChange } from "./broker/broker.ts";
import { through } from "./calls.ts";
import type { Connection } from "./connection.ts";
import type { Subscription } from "./subscription-map.ts";
import { keyOf } from "./subscription-map.ts";
import { CallContext } from "./context.ts";
import { errorFrame, simpleErrorFrame, toIssues } from "./error-frame.ts";
import { inOrder, PendingRequest } from "./requests.ts";
import type { Core } from "./core.ts";
import { channelOf } from "./topics.ts";

/** A decoded, validated payload, or nothing when the request was already answered with the error. */
export type Validated = { ok: true; value: unknown } | { ok: false };

/** Decodes and validates a payload against an optional schema, answering the request's error itself. */
export function validate(request: PendingRequest, schema: AnyTopic["params"], payload: Payload | undefined, what: string): Validated {
  let value: unknown;
  try {
    value = decode(payload);
  } catch {
    request.answer(simpleErrorFrame(request.id, "BAD_REQUEST", `${what}: not a valid superjson payload`));
    return { ok: false };
  }
  if (schema === undefined) return { ok: true, value };
  const parsed = v.safeParse(schema, value);
  if (!parsed.success) {
    request.answer(simpleErrorFrame(request.id, "INVALID_INPUT", `${what}: failed validation`, toIssues(parsed.issues)));
    return { ok: false };
  }
  return { ok: true, value: parsed.output };
}

/** Adds a subscriber to presence and sends it the current state. */
export function trackPresence<A>(
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
    changePresence(core, { channel, topic: sub.topic, key: keyOf(sub, channel), countsOnly, member: entry.key, connectionId: conn.id, meta: encode(meta), join: true });
  }
  const snapshot = core.presence.snapshot(channel) ?? { type: "presence", topic: sub.topic, key: keyOf(sub, channel), count: 0, state: {} };
  if (def.presenceMode === "counts") delete snapshot.state;
  conn.send(JSON.stringify(snapshot));
}

/** A join or leave made here: into this instance's presence, and out to the others (Redis broker). */
function changePresence<A>(core: Core<A>, change: PresenceChange): void {
  core.presence.apply(change);
  core.broker.presence?.announce(change).catch(() => {});
}

/**
 * Handles an unsubscribe frame, after any earlier subscribe or unsubscribe of the same instance.
 * Always answered `unsubscribed`: unsubscribing from an instance not held (twice, an unknown key or
 * topic) is not an error.
 */
export function unsubscribe<A>(core: Core<A>, conn: Connection<A>, frame: v.InferOutput<typeof UnsubscribeFrame>): void {
  const request = PendingRequest.claim(conn as Connection, frame.id);
  if (request === undefined) return;
  const channel = channelOf(frame.topic, frame.key);
  const answer = JSON.stringify({ type: "unsubscribed", id: frame.id, topic: frame.topic, key: frame.key });
  inOrder(conn as Connection, channel, () => {
    removeSubscription(core, conn, channel);
    request.answer(answer);
  }, () => request.answer(answer));
}

/** Ends every subscription of a closing connection. */
export function unsubscribeAll<A>(core: Core<A>, conn: Connection<A>): void {
  for (const channel of [...conn.subscriptions.keys()]) removeSubscription(core, conn, channel);
}

/** Ends one subscription of a connection (if it has it): registry, presence, broker, hook. */
export function removeSubscription<A>(core: Core<A>, conn: Connection<A>, channel: string): void {
  const sub = conn.subscriptions.get(channel);
  if (sub === undefined) return;
  conn.subscriptions.delete(channel);
  core.registry.remove(conn as Connection, channel);
  const entry = core.topics.get(sub.topic);
  if (sub.presenceKey !== undefined) {
    const countsOnly = entry?.def.presenceMode === "counts";
    changePresence(core, { channel, topic: sub.topic, key: keyOf(sub, channel), countsOnly, member: sub.presenceKey, connectionId: conn.id, join: false });
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
  const request = PendingRequest.claim(conn as Connection, id);
  if (request === undefined) return;
  const entry = core.topics.get(topic);
  if (entry === undefined) return request.answer(simpleErrorFrame(id, "NOT_FOUND", `Unknown topic "${topic}"`));
  if (!entry.def.clientPublish) {
    return request.answer(simpleErrorFrame(id, "FORBIDDEN", `Cannot publish to "${topic}": clients may not publish to it`));
  }
  const params = validate(request, entry.def.params, frame.params, `Cannot publish to "${topic}": params`);
  if (!params.ok) return;
  const message = validate(request, entry.def.message, frame.data, `Cannot publish to "${topic}": message`);
  if (!message.ok) return;
  const ctx = new CallContext<ContractTree, A>(conn, core.rooms, core.publisher, conn.closed);
  try {
    const allowed = await through(core.chain(topic), { kind: "publish", path: topic, input: message.value, ctx }, () =>
      entry.hooks.authorizePublish === undefined ? true : entry.hooks.authorizePublish(params.value, message.value, ctx));
    if (allowed !== true) throw new RpcError("FORBIDDEN", `Cannot publish to "${topic}": not allowed`);
    await core.publishValid(topic, params.value, message.value, { except: conn.id });
    // A publish has no value to return: its result carries no output (PROTOCOL.md section 4).
    request.answer(JSON.stringify({ type: "result", id }));
  } catch (error) {
    request.answer(errorFrame(id, error, core.options.dev));
  }
}
