/**
 * The browser entry: bundled by esbuild (`npm run build`) into dist/frontend.js. It imports only the
 * generated client, so the bundle carries the Tether client and superjson, no server code and no valibot.
 * @module
 */
import { createNotesClient, type Note } from "./generated/notes.ts";

/** Connects, shows every note (existing and new) through `render`, and returns a way to add one. */
export async function start(url: string, render: (note: Note) => void): Promise<{ add(text: string): Promise<Note>; stop(): void }> {
  const client = createNotesClient(url, { params: () => ({ user: "browser" }) });
  const sub = client.api.notes.added.subscribe(undefined, { onData: render });
  await sub.ready;
  for (const note of await client.api.notes.list()) render(note);
  return {
    add: (text) => client.api.notes.add({ text }),
    stop: () => client.close(),
  };
}

// In a page: connect to the server that served it and list notes in <ul id="notes">.
const page = (globalThis as { document?: Document }).document;
if (page !== undefined) {
  const list = page.getElementById("notes");
  await start(`ws://${location.host}/ws`, (note) => {
    const item = page.createElement("li");
    item.textContent = `${note.author}: ${note.text}`;
    list?.append(item);
  });
}
