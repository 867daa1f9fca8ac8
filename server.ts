/**
 * The Tether service program: `deno task start` or `bun run start`.
 * Reads its configuration from flags and the environment, serves the chat app with the adapter of
 * the runtime it runs on, and shuts down gracefully on SIGINT / SIGTERM.
 * @module
 */
import { createChatService } from "./app/chat.ts";
import type { Broker } from "./server/broker/broker.ts";
import { createRedisBroker } from "./server/broker/redis.ts";
import { staticFiles } from "./app/static.ts";
import { createLogger, type RunningServer } from "./server/mod.ts";
import { programHelp, readProgramConfig } from "./server/program-config.ts";

/** The runtime-specific bits this program needs: args, env, signals, exit. */
interface Runtime {
  args: string[];
  env(name: string): string | undefined;
  onSignal(signal: "SIGINT" | "SIGTERM", fn: () => void): void;
  exit(code: number): never;
}

function runtime(): Runtime {
  // Only this program looks at which runtime it is on; the library code never does.
  const g = globalThis as unknown as {
    Deno?: { args: string[]; env: { get(n: string): string | undefined }; addSignalListener(s: string, f: () => void): void; exit(c: number): never };
    process?: { argv: string[]; env: Record<string, string | undefined>; on(s: string, f: () => void): void; exit(c: number): never };
  };
  if (g.Deno !== undefined) {
    const d = g.Deno;
    return { args: d.args, env: (n) => d.env.get(n), onSignal: (s, f) => d.addSignalListener(s, f), exit: (c) => d.exit(c) };
  }
  const p = g.process!;
  return { args: p.argv.slice(2), env: (n) => p.env[n], onSignal: (s, f) => void p.on(s, f), exit: (c) => p.exit(c) };
}

async function main(): Promise<void> {
  const rt = runtime();
  if (rt.args.includes("--help") || rt.args.includes("-h")) {
    console.log(programHelp());
    return;
  }
  const read = readProgramConfig(rt.args, rt.env);
  if ("error" in read) {
    console.error(`Cannot start: ${read.error}`);
    return rt.exit(2);
  }
  const { config } = read;
  let broker: Broker | undefined;
  const [redisUrl, ...rootNodes] = config.redisCluster ?? (config.redis === undefined ? [] : [config.redis]);
  if (redisUrl !== undefined) {
    try {
      broker = await createRedisBroker(redisUrl, config.redisCluster === undefined ? {} : { cluster: { rootNodes } });
    } catch (error) {
      console.error(error instanceof Error ? error.message : String(error));
      rt.exit(1);
    }
  }
  const { port, host: hostname, redis: _, redisCluster: _cluster, logLevel, origins, ...options } = config;
  const logger = createLogger(logLevel);
  const service = createChatService({ ...options, logger, ...(broker === undefined ? {} : { broker }), ...(origins === undefined ? {} : { origins }) });
  const isBun = "Bun" in globalThis;
  const { serve } = isBun
    ? { serve: (await import("./server/adapters/bun.ts")).serveBun }
    : { serve: (await import("./server/adapters/deno.ts")).serveDeno };
  const server: RunningServer = serve(service, { port, hostname, fetch: staticFiles() });
  // The socket's URL for clients, the page's for people: both, on stdout whatever the log level.
  const page = `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${server.port}/`;
  console.log(JSON.stringify({ level: "info", msg: "listening", runtime: isBun ? "bun" : "deno", url: server.url, page }));

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.stop(1000);
    rt.exit(0);
  };
  rt.onSignal("SIGINT", stop);
  rt.onSignal("SIGTERM", stop);
}

await main();
