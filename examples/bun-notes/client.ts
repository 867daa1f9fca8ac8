/**
 * A command-line client of the notes service: `bun client.ts ws://127.0.0.1:8080/ws`.
 * Subscribes to new notes, adds one, lists them, prints one JSON line and exits.
 * Uses only the generated client (generated/notes.ts), which imports only `@tether/rpc/client`.
 * @module
 */
import { createNotesClient, type Note, RpcError } from "./generated/notes.ts";

const url = process.argv[2] ?? "ws://127.0.0.1:8080/ws";
const client = createNotesClient(url, { params: () => ({ user: "cli" }), reconnect: false });

const seen: Note[] = [];
const sub = client.api.notes.added.subscribe(undefined, { onData: (note) => seen.push(note) });
await sub.ready;

const added = await client.api.notes.add({ text: `from ${"Bun" in globalThis ? "bun" : "deno"}` });
const refused = await client.api.notes.add.safe({ text: " " });
const all = await client.api.notes.list();
while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));

console.log(JSON.stringify({
  added: { id: added.id, text: added.text, atIsDate: added.at instanceof Date },
  refused: refused.ok ? null : { code: refused.error.code, message: refused.error.message, isRpcError: refused.error instanceof RpcError },
  listed: all.length,
  received: seen.map((n) => n.text),
}));
sub.unsubscribe();
client.close();
