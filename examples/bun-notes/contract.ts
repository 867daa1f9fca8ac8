/**
 * The notes service's contract: shared by the server (which implements it) and the codegen CLI
 * (which writes the typed client in generated/ from it).
 * @module
 */
import * as v from "valibot";
import { defineContract, procedure, topic } from "@tether/rpc";

/** One note as stored and delivered. */
export const Note = v.object({
  id: v.pipe(v.number(), v.description("Position in the list, from 1")),
  author: v.pipe(v.string(), v.description("Who wrote it")),
  text: v.pipe(v.string(), v.description("What it says")),
  at: v.pipe(v.date(), v.description("When the server took it")),
});

/** The notes service's contract. */
export const contract = defineContract({
  notes: {
    add: procedure({ input: v.object({ text: v.pipe(v.string(), v.maxLength(500)) }), output: Note, description: "Adds a note" }),
    list: procedure({ output: v.array(Note), description: "Every note, oldest first" }),
    // A topic without params: one stream every subscriber shares.
    added: topic({ message: Note, description: "Each note as it is added" }),
  },
});
