/**
 * Tether's Bun adapter: serves a service with `Bun.serve` and its WebSocket handlers, using Bun's
 * native publish for topic fan-out.
 *
 * @example Serve a service on Bun
 * ```ts ignore
 * import { createService, defineContract } from "@tether/rpc/server";
 * import { serveBun } from "@tether/rpc/bun";
 *
 * const service = createService(defineContract({}), {});
 * const server = serveBun(service, { port: 0 });
 * console.log(server.url);
 * await server.stop();
 * ```
 * @module
 */
export { serveBun } from "./adapters/bun.ts";
export type { RunningServer, ServeOptions } from "./adapters/serve-options.ts";
