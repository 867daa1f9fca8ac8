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
import type { RunningServer } from "./server/mod.ts";

const HELP = `Tether: typed realtime RPC over WebSocket

Usage: deno task start [options]   |   bun run start [options]

Options (each also read from the environment variable in brackets):
  --port <n>       TCP port to listen on [PORT]              default 8080
  --host <name>    interface to bind [HOST]                  default 127.0.0.1
  --dev            show error details to clients [TETHER_DEV=1]
  --redis <url>    scale out on Redis: share topics, history, rooms' publishes
                   with every instance using the same Redis [REDIS_URL]
                   default: none (in-memory broker, one process)
  --origins <list> comma-separated browser origins allowed to open sockets, e.g. the
                   page's public origin https://chat.example.com [TETHER_ORIGINS]
                   default: loopback only (localhost, 127.0.0.1, [::1], any port)
  --help           print this text

Endpoints: WebSocket /ws (subprotocol tether.v1), GET /healthz, the demo chat page at /,
  its AsyncAPI 3.0 document at /asyncapi.json, the JSON Schema of its payloads at /schemas.json
`;

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

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i >= 0) return args[i + 1];
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

async function main(): Promise<void> {
  const rt = runtime();
  if (rt.args.includes("--help") || rt.args.includes("-h")) {
    console.log(HELP);
    return;
  }
  const port = Number(flag(rt.args, "port") ?? rt.env("PORT") ?? 8080);
  const hostname = flag(rt.args, "host") ?? rt.env("HOST") ?? "127.0.0.1";
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`Cannot start: port "${port}" is not a number between 0 and 65535`);
    rt.exit(2);
  }
  const dev = rt.args.includes("--dev") || rt.env("TETHER_DEV") === "1";
  const redisUrl = flag(rt.args, "redis") ?? rt.env("REDIS_URL");
  let broker: Broker | undefined;
  if (redisUrl !== undefined && redisUrl !== "") {
    try {
      broker = await createRedisBroker(redisUrl);
    } catch (error) {
      console.error(error instanceof Error ? error.message : String(error));
      rt.exit(1);
    }
  }
  const originList = flag(rt.args, "origins") ?? rt.env("TETHER_ORIGINS");
  const origins = originList?.split(",").map((o) => o.trim()).filter((o) => o !== "");
  const service = createChatService({ dev, ...(broker === undefined ? {} : { broker }), ...(origins === undefined ? {} : { origins }) });
  const isBun = "Bun" in globalThis;
  const { serve } = isBun
    ? { serve: (await import("./server/adapters/bun.ts")).serveBun }
    : { serve: (await import("./server/adapters/deno.ts")).serveDeno };
  const server: RunningServer = serve(service, { port, hostname, fetch: staticFiles() });
  console.log(JSON.stringify({ level: "info", msg: "listening", runtime: isBun ? "bun" : "deno", url: server.url }));

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
