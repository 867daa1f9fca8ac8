/**
 * The notes server on Bun: `bun server.ts [port]` (port 0 picks a free one). Prints one JSON line
 * with its WebSocket URL, serves /asyncapi.json and /schemas.json, and stops cleanly on SIGTERM.
 * @module
 */
import { createService, RpcError } from "@tether/rpc/server";
import { serveBun } from "@tether/rpc/bun";
import { contract } from "./contract.ts";

type Note = { id: number; author: string; text: string; at: Date };
const notes: Note[] = [];

const service = createService(contract, {
  notes: {
    add: ({ text }, ctx) => {
      // A thrown RpcError reaches the caller with its code and message.
      if (text.trim() === "") throw new RpcError("BAD_REQUEST", "A note needs some text");
      const note = { id: notes.length + 1, author: ctx.auth.user, text, at: new Date() };
      notes.push(note);
      ctx.publish("notes.added", undefined, note);
      return note;
    },
    list: () => notes,
  },
}, {
  // Who connects: the `user` query parameter (a real app verifies a token here).
  authenticate: (request: Request) => ({ user: new URL(request.url).searchParams.get("user") ?? "anonymous" }),
  documents: { title: "Notes", version: "1.0.0" },
});

const server = serveBun(service, { port: Number(process.argv[2] ?? 8080) });
console.log(JSON.stringify({ msg: "listening", url: server.url }));

// Graceful stop: close sockets with 1001 and a retry hint, then exit.
process.on("SIGTERM", async () => {
  await server.stop(1000);
  console.log(JSON.stringify({ msg: "stopped" }));
  process.exit(0);
});
