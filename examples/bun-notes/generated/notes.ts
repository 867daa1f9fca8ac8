// Generated from contract.ts by `tether codegen`. Do not edit: run `tether codegen --contract contract.ts --out generated --name Notes`.
/**
 * The typed client of the notes service: every procedure's input and output and every
 * topic's params, message and presence as TypeScript types, and `createNotesClient()`.
 * Self-contained: it imports the Tether client and nothing else (no server code, no schema library).
 * @module
 */
import { type Client, type ClientOptions, createClient, type Procedure, type Topic, type TypedSchema as Schema } from "@tether/rpc/client";

export { type CallOptions, type ClientOptions, type ConnectionState, type PresenceView, RpcError, type SubscriptionHandle } from "@tether/rpc/client";

export interface Note {
  /** Position in the list, from 1 */
  id: number;
  /** Who wrote it */
  author: string;
  /** What it says */
  text: string;
  /** When the server took it */
  at: Date;
}

/** What `notes.add` takes: adds a note */
export interface NotesAddInput {
  text: string;
}

/** What `notes.add` returns: adds a note */
export type NotesAddOutput = Note;

/** What `notes.list` returns: every note, oldest first */
export type NotesListOutput = Note[];

/** One message of `notes.added` as received */
export type NotesAddedMessage = Note;

/** The notes service's contract as types only (no schemas): what `createClient` needs. */
export type NotesContract = {
  notes: {
    /** Adds a note */
    add: Procedure<Schema<NotesAddInput>, Schema<NotesAddOutput>>;
    /** Every note, oldest first */
    list: Procedure<Schema<undefined>, Schema<NotesListOutput>>;
    /** Each note as it is added */
    added: Topic<Schema<undefined>, Schema<NotesAddedMessage, NotesAddedMessage>, Schema<never>>;
  };
};

/** A connected client of the notes service. */
export type NotesClient = Client<NotesContract>;

/**
 * Connects to the notes service.
 * @param url the service's WebSocket URL, e.g. `ws://localhost:8080/ws`
 * @param options the client's options (reconnect, timeouts, query params, the `implement`ations the server calls); see `ClientOptions`
 * @example
 * const client = createNotesClient("ws://localhost:8080/ws");
 */
export function createNotesClient(url: string, options: ClientOptions<NotesContract> = {}): NotesClient {
  return createClient<NotesContract>(url, options);
}
