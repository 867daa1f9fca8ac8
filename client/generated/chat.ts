// Generated from app/contract.ts by `tether codegen`. Do not edit: run `deno task codegen` or `bun run codegen`.
/**
 * The typed client of the chat service: every procedure's input and output and every
 * topic's params, message and presence as TypeScript types, and `createChatClient()`.
 * Self-contained: it imports the Tether client and nothing else (no server code, no schema library).
 * @module
 */
import { type Client, type ClientOptions, createClient, type Procedure, type Topic, type TypedSchema as Schema } from "../mod.ts";

export { type CallOptions, type ClientOptions, type ConnectionState, type PresenceView, RpcError, type SubscriptionHandle } from "../mod.ts";

export interface Message {
  /** Server-assigned message id */
  id: string;
  /** Room id */
  roomId: string;
  /** Display name of the sender */
  author: string;
  /** Message text */
  text: string;
  /** When the server accepted the message */
  sentAt: Date;
}

/** What `rooms.list` returns: rooms with someone in them, and how many members each has */
export type RoomsListOutput = {
  /** Room id */
  id: string;
  /** Distinct members online, as the room's presence counts them */
  members: number;
}[];

/** One message of `rooms.directory` as received */
export type RoomsDirectoryMessage = {
  /** Room id */
  id: string;
  /** Distinct members online, as the room's presence counts them */
  members: number;
}[];

/** Which instance of `rooms.messages` to subscribe to */
export interface RoomsMessagesParams {
  /** Room id */
  roomId: string;
}

/** One message of `rooms.messages` as received */
export type RoomsMessagesMessage = Message;

/** Presence metadata of one connection in `rooms.messages` */
export interface RoomsMessagesPresence {
  name: string;
  since: Date;
}

/** Which instance of `rooms.typing` to subscribe to */
export interface RoomsTypingParams {
  /** Room id */
  roomId: string;
}

/** One message of `rooms.typing` as received */
export interface RoomsTypingMessage {
  name: string;
  typing: boolean;
}

/** What `chat.send` takes: sends a message to a room; every subscriber (the sender included) receives it */
export interface ChatSendInput {
  /** Room id */
  roomId: string;
  text: string;
}

/** What `chat.send` returns: sends a message to a room; every subscriber (the sender included) receives it */
export type ChatSendOutput = Message;

/** What `chat.history` takes: the latest messages of a room, oldest first */
export interface ChatHistoryInput {
  /** Room id */
  roomId: string;
  limit?: number | undefined;
}

/** What `chat.history` returns: the latest messages of a room, oldest first */
export type ChatHistoryOutput = Message[];

/** What `chat.clear` takes: clears a room's history once the requester confirms (the server asks with client.confirm); the room is told who cleared it */
export interface ChatClearInput {
  /** Room id */
  roomId: string;
}

/** What `chat.clear` returns: clears a room's history once the requester confirms (the server asks with client.confirm); the room is told who cleared it */
export interface ChatClearOutput {
  /** Messages removed */
  cleared: number;
}

/** Data of `chat.clear`'s `NOT_CONFIRMED` error */
export interface ChatClearErrorNotConfirmed {
  /** Room id */
  roomId: string;
}

/** What `me` returns: who this connection is */
export interface MeOutput {
  name: string;
  connectionId: string;
}

/** What `client.confirm` takes: asks the user a yes-or-no question; the server waits for the answer */
export interface ClientConfirmInput {
  question: string;
}

/** What `client.confirm` returns: asks the user a yes-or-no question; the server waits for the answer */
export interface ClientConfirmOutput {
  confirmed: boolean;
}

/** The chat service's contract as types only (no schemas): what `createClient` needs. */
export type ChatContract = {
  rooms: {
    /** Rooms with someone in them, and how many members each has */
    list: Procedure<Schema<undefined>, Schema<RoomsListOutput>>;
    /** Rooms with someone in them and their member counts: the whole list on every change, the current one at once on subscribe */
    directory: Topic<Schema<undefined>, Schema<RoomsDirectoryMessage, RoomsDirectoryMessage>, Schema<never>>;
    /** Messages of one room; subscribing also joins its presence */
    messages: Topic<Schema<RoomsMessagesParams>, Schema<RoomsMessagesMessage, RoomsMessagesMessage>, Schema<RoomsMessagesPresence>>;
    /** Who is typing in a room; clients publish, everyone else receives */
    typing: Topic<Schema<RoomsTypingParams>, Schema<RoomsTypingMessage, RoomsTypingMessage>, Schema<never>>;
  };
  chat: {
    /** Sends a message to a room; every subscriber (the sender included) receives it */
    send: Procedure<Schema<ChatSendInput>, Schema<ChatSendOutput>>;
    /** The latest messages of a room, oldest first */
    history: Procedure<Schema<ChatHistoryInput>, Schema<ChatHistoryOutput>>;
    /** Clears a room's history once the requester confirms (the server asks with client.confirm); the room is told who cleared it */
    clear: Procedure<Schema<ChatClearInput>, Schema<ChatClearOutput>, { readonly NOT_CONFIRMED: Schema<ChatClearErrorNotConfirmed> }>;
  };
  /** Who this connection is */
  me: Procedure<Schema<undefined>, Schema<MeOutput>>;
  client: {
    /** Asks the user a yes-or-no question; the server waits for the answer */
    confirm: Procedure<Schema<ClientConfirmInput>, Schema<ClientConfirmOutput>>;
  };
};

/** A connected client of the chat service. */
export type ChatClient = Client<ChatContract>;

/**
 * Connects to the chat service.
 * @param url the service's WebSocket URL, e.g. `ws://localhost:8080/ws`
 * @param options the client's options (reconnect, timeouts, query params, the `implement`ations the server calls); see `ClientOptions`
 * @example
 * const client = createChatClient("ws://localhost:8080/ws");
 */
export function createChatClient(url: string, options: ClientOptions<ChatContract> = {}): ChatClient {
  return createClient<ChatContract>(url, options);
}
