/**
 * The counter server on Deno: `deno run --allow-net server.ts [port]` (0 picks a free port).
 * Prints one JSON line with its WebSocket URL and stops cleanly on SIGTERM or SIGINT.
 * @module
 */
import { createService, RpcError } from "@tether/rpc/server";
import { serveDeno } from "@tether/rpc/deno";
import { contract } from "./contract.ts";

let count = 0;

const service = createService(contract, {
  counter: {
    increment: ({ by }, ctx) => {
      if (count + by > 1_000_000) throw new RpcError("BAD_REQUEST", "The counter stops at one million");
      count += by;
      ctx.publish("counter.changed", undefined, { value: count, by: ctx.auth.name });
      return count;
    },
    value: () => count,
  },
}, {
  authenticate: (request: Request) => ({ name: new URL(request.url).searchParams.get("name") ?? "someone" }),
  documents: { title: "Counter", version: "1.0.0" },
});

const server = serveDeno(service, { port: Number(Deno.args[0] ?? 8080) });
console.log(JSON.stringify({ msg: "listening", url: server.url }));

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, async () => {
    await server.stop(1000);
    console.log(JSON.stringify({ msg: "stopped" }));
    Deno.exit(0);
  });
}
