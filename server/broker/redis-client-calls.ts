/**
 * The Redis side of `service.client(id)` for a connection held by another instance, over the
 * instance relay (instance-relay.ts) on channel `<prefix>k`: a call travels as `{ id, from, call }`,
 * and each instance that does not hold the connection answers `{ id, absent: true }` on the asker's
 * reply channel (`<prefix>k:<instance>`) at once; the one that holds it runs the call and answers
 * `{ id, answer }` with the client's answer. A cancel travels on the request channel as
 * `{ id, from, cancel: true }`. The asker waits at most the call's timeout plus the broker's
 * `clusterTimeout` (a holder killed mid-call answers TIMEOUT, never a hang); when every instance
 * PUBLISH reached said "absent", the connection is open nowhere.
 * @module
 */
import type { Logger } from "../log.ts";
import type { ClientAnswer, ClientCallRelay, RelayedClientCall } from "./broker.ts";
import { createInstanceRelay, type RelayWaiter } from "./instance-relay.ts";
import type { RedisPort } from "./redis-port.ts";

/** What travels on the request channel beside the id and the asker: a call, or the cancel of one. */
type CallRequest = { call: RelayedClientCall } | { cancel: true };

/** What travels back to the asker beside the id: "not here", or the holder's answer. */
type CallReply = { absent: true } | { answer: ClientAnswer };

/** One call this instance asked about and is waiting for. */
interface Pending extends RelayWaiter<CallReply> {
  done(answer: ClientAnswer | undefined): void;
}

/** The client-call relay of one instance, with `close()` for the broker's shutdown. */
export interface RedisClientCallRelay extends ClientCallRelay {
  /** Stops listening; calls still waiting answer DISCONNECTED, calls running for others are aborted. */
  close(): Promise<void>;
}

/**
 * Creates the relay of one instance.
 * @param redis the broker's connections (one node or a cluster)
 * @param prefix the broker's key and channel prefix
 * @param instance this instance's id
 * @param grace milliseconds waited beyond a call's timeout for the holder's answer (`clusterTimeout`)
 * @param logger the broker's logger (the service's, once the broker started): a run that fails is warned there
 */
export function redisClientCalls(redis: RedisPort, prefix: string, instance: string, grace: number, logger: () => Logger | undefined): RedisClientCallRelay {
  const relay = createInstanceRelay<CallRequest, CallReply, Pending>(redis, `${prefix}k`, instance);
  /** Calls this instance runs for other instances, by `from:id`, to abort on their cancel. */
  const running = new Map<string, AbortController>();

  return {
    listen(run) {
      return relay.listen((request) => {
        const key = `${request.from}:${request.id}`;
        if ("cancel" in request) return running.get(key)?.abort();
        const controller = new AbortController();
        let answer: Promise<ClientAnswer> | undefined;
        try {
          answer = run(request.call, controller.signal);
        } catch (error) {
          answer = Promise.reject(error);
        }
        if (answer === undefined) return relay.reply(request.from, request.id, { absent: true });
        running.set(key, controller);
        const send = (a: ClientAnswer) => {
          running.delete(key);
          relay.reply(request.from, request.id, { answer: a });
        };
        // A run that fails (it should not: it answers errors) is the asker's INTERNAL at once, not an
        // unhandled rejection (fatal on Deno) and a wait for the asker's timeout; the error is warned here.
        answer.then(send, (error: unknown) => {
          const { method } = request.call;
          logger()?.warn("client call failed on the instance holding the connection", {
            method,
            error: error instanceof Error ? error.message || error.name : String(error),
          });
          send({ ok: false, code: "INTERNAL", message: `Client call "${method}" failed on the instance holding the connection` });
        });
      });
    },
    async call(call, signal) {
      await relay.ready();
      const bound = call.timeout + grace;
      let id = 0;
      let onAbort = () => {};
      let finish: (answer: ClientAnswer | undefined) => void = () => {};
      const result = new Promise<ClientAnswer | undefined>((resolve) => {
        const timer = setTimeout(() => finish({ ok: false, code: "TIMEOUT", message: `Client call "${call.method}" got no answer from the instance holding the connection within ${bound} ms` }), bound);
        finish = (answer) => {
          if (relay.forget(id) === undefined) return;
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          resolve(answer);
        };
        const p: Pending = {
          expected: undefined,
          counted: 0,
          done: finish,
          reply: (message) => ("answer" in message ? finish(message.answer) : void p.counted++),
          // Every instance PUBLISH reached said "absent": the connection is open nowhere.
          complete: () => finish(undefined),
        };
        id = relay.wait(p);
        onAbort = () => {
          relay.tell(id, { cancel: true });
          finish({ ok: false, code: "CANCELLED", message: `Client call "${call.method}" cancelled by the server` });
        };
        signal?.addEventListener("abort", onAbort, { once: true });
      });
      try {
        await relay.ask(id, { call });
      } catch (error) {
        finish({ ok: false, code: "INTERNAL", message: `Cannot reach the other instances: ${String(error)}` });
      }
      return result;
    },
    async close() {
      for (const [, p] of relay.waiting()) p.done({ ok: false, code: "DISCONNECTED", message: "The broker closed before the client answered" });
      for (const controller of running.values()) controller.abort();
      await relay.close();
    },
  };
}
