/**
 * The conformance service: {@link conformanceContract} implemented with fixed, documented options,
 * for the scenarios in conformance/scenarios.json and for client authors in other languages.
 * @module
 */
import { createService, type Service, type ServiceOptions } from "../server/mod.ts";
import { RpcError } from "../shared/errors.ts";
import { type ConformanceContract, conformanceContract } from "./contract.ts";

/**
 * Who a connection is: the `name` query parameter of its upgrade (`"anon"` without one); the names
 * `intruder` and `outcast` are refused (4401 and 4403 after an error frame).
 */
export interface ConformanceAuth {
  name: string;
}

/** The options the scenarios assume (PROTOCOL.md section 10); anything else is the default. */
export const CONFORMANCE_OPTIONS = {
  /** Short enough for a scenario to see TIMEOUT quickly. */
  callTimeout: 1000,
  presenceWindow: 50,
  limits: { maxInFlight: 8, maxSubscriptions: 8 },
} as const;

/**
 * Creates the conformance service.
 * @param options overrides (a test's logger, say); the scenarios assume {@link CONFORMANCE_OPTIONS}
 */
export function createConformanceService(
  options: ServiceOptions<ConformanceContract, ConformanceAuth> = {},
): Service<ConformanceContract, ConformanceAuth> {
  let ticks = 0;
  const service: Service<ConformanceContract, ConformanceAuth> = createService<ConformanceContract, ConformanceAuth>(conformanceContract, {
    echo: (input) => input,
    wait: ({ ms }, ctx) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve({ waited: ms }), ms);
        ctx.signal.addEventListener("abort", () => (clearTimeout(timer), reject(ctx.signal.reason)), { once: true });
      }),
    fail: ({ code, message, data }) => {
      throw new RpcError(code, message, data);
    },
    tick: () => ++ticks,
    crash: () => {
      throw new Error("Conformance crash on purpose");
    },
    // The contract says string; returning a number on purpose shows how a broken output is answered.
    breakOutput: () => 42 as unknown as string,
    emit: ({ topic, params, message, target }, ctx) => {
      const to = target === undefined ? undefined : Object.fromEntries(Object.entries(target).filter(([, v]) => v !== undefined));
      ctx.publish(topic, params, message, to);
      return null;
    },
    join: ({ room }, ctx) => {
      ctx.join(room);
      return null;
    },
    close: ({ code, reason }, ctx) => {
      service.disconnect(ctx.connectionId, code, reason);
      return null;
    },
    feed: { presence: (_params, ctx) => ({ key: ctx.auth.name, meta: { name: ctx.auth.name } }) },
    crowd: { presence: (_params, ctx) => ({ key: ctx.auth.name, meta: { name: ctx.auth.name } }) },
    ask: ({ value, timeout }, ctx) => ctx.client.echo(value, timeout === undefined ? {} : { timeout }),
  }, {
    ...CONFORMANCE_OPTIONS,
    authenticate: (request) => {
      const name = new URL(request.url).searchParams.get("name") || "anon";
      if (name === "intruder") throw new RpcError("UNAUTHORIZED", "Unknown user");
      if (name === "outcast") throw new RpcError("FORBIDDEN", "Banned user");
      return { name };
    },
    // In-band auth: the token is the new name; "bad" and "banned" show the two refusals.
    reauthenticate: (token) => {
      if (token === "bad") throw new RpcError("UNAUTHORIZED", "Token rejected");
      if (token === "banned") throw new RpcError("FORBIDDEN", "Not allowed");
      return { name: token };
    },
    ...options,
  });
  return service;
}
