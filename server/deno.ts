/**
 * Tether's Deno adapter: serves a service with `Deno.serve` and `Deno.upgradeWebSocket`.
 *
 * @example Serve a service on Deno
 * ```ts
 * import { createService, defineContract } from "@tether/rpc/server";
 * import { serveDeno } from "@tether/rpc/deno";
 *
 * const service = createService(defineContract({}), {});
 * const server = serveDeno(service, { port: 0 });
 * console.log(server.url);
 * await server.stop();
 * ```
 * @module
 */
export { serveDeno } from "./adapters/deno.ts";
export type { RunningServer, ServeOptions } from "./adapters/serve-options.ts";
