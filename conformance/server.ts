/**
 * Serves the conformance service (PROTOCOL.md section 10) for a client written in another language:
 * `bun conformance/server.ts` or `deno run --allow-net --allow-env conformance/server.ts`.
 * Flags: `--port <n>` (default 8090, or PORT), `--host <name>` (default 127.0.0.1, or HOST).
 * @module
 */
import { parseArgs } from "node:util";
import { createConformanceService } from "./service.ts";

const { values } = parseArgs({ options: { port: { type: "string" }, host: { type: "string" } } });
const port = Number(values.port ?? process.env.PORT ?? 8090);
const hostname = values.host ?? process.env.HOST ?? "127.0.0.1";
const service = createConformanceService();
// The one place that looks at the runtime: each adapter only runs on its own.
const running = "Bun" in globalThis
  ? (await import("../server/adapters/bun.ts")).serveBun(service, { port, hostname })
  : (await import("../server/adapters/deno.ts")).serveDeno(service, { port, hostname });
console.log(`Conformance service on ${running.url}`);
