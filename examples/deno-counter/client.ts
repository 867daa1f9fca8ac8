/**
 * A client of the counter service: `deno run --allow-net client.ts ws://127.0.0.1:8080/ws`.
 * Watches the counter, increments it, prints one JSON line and exits.
 * @module
 */
import { createCounterClient, RpcError } from "./generated/counter.ts";

const client = createCounterClient(Deno.args[0] ?? "ws://127.0.0.1:8080/ws", { params: () => ({ name: "deno-cli" }), reconnect: false });
await client.ready();

const changes: { value: number; by: string }[] = [];
const sub = client.api.counter.changed.subscribe(undefined, { onData: (change) => changes.push(change) });
await sub.ready;

const after = await client.api.counter.increment({ by: 2 });
let invalid: string | undefined;
try {
  await client.api.counter.increment({ by: 0 });
} catch (error) {
  if (error instanceof RpcError) invalid = error.code;
}
while (changes.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));

console.log(JSON.stringify({ after, value: await client.api.counter.value(), invalid, changes }));
sub.unsubscribe();
client.close();
