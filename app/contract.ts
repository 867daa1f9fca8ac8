/**
 * The demo service's contract: chat rooms with history, presence and a typing indicator, and one
 * procedure the client implements (`client.confirm`, which the server calls before clearing a room).
 * Frontends import its type (or the generated client); the server implements it.
 * @module
 */
import * as v from "valibot";
import { defineContract, procedure, topic } from "../shared/contract.ts";

const RoomId = v.pipe(v.string(), v.regex(/^[a-z0-9-]{1,32}$/, "Room ids are 1-32 lowercase letters, digits or dashes"), v.description("Room id"));

/** One chat message as stored and delivered. */
export const Message = v.object({
  id: v.pipe(v.string(), v.description("Server-assigned message id")),
  roomId: RoomId,
  author: v.pipe(v.string(), v.description("Display name of the sender")),
  text: v.pipe(v.string(), v.description("Message text")),
  sentAt: v.pipe(v.date(), v.description("When the server accepted the message")),
});

/** A room in the directory: its id and how many members (distinct names, as its online list counts them) are in it. */
const RoomCount = v.object({ id: RoomId, members: v.pipe(v.number(), v.description("Distinct members online, as the room's presence counts them")) });

/** The demo service's contract. */
export const contract = defineContract({
  rooms: {
    list: procedure({
      output: v.array(RoomCount),
      description: "Rooms with someone in them, and how many members each has",
    }),
    directory: topic({
      message: v.array(RoomCount),
      history: false,
      slowConsumer: "keep-latest",
      description: "Rooms with someone in them and their member counts: the whole list on every change, the current one at once on subscribe",
    }),
    messages: topic({
      params: v.object({ roomId: RoomId }),
      message: Message,
      presence: v.object({ name: v.string(), since: v.date() }),
      description: "Messages of one room; subscribing also joins its presence",
    }),
    typing: topic({
      params: v.object({ roomId: RoomId }),
      message: v.object({ name: v.string(), typing: v.boolean() }),
      clientPublish: true,
      history: false,
      slowConsumer: "drop-oldest",
      description: "Who is typing in a room; clients publish, everyone else receives",
    }),
  },
  chat: {
    send: procedure({
      input: v.object({ roomId: RoomId, text: v.pipe(v.string(), v.trim(), v.minLength(1, "Say something"), v.maxLength(2000)) }),
      output: Message,
      description: "Sends a message to a room; every subscriber (the sender included) receives it",
    }),
    history: procedure({
      input: v.object({ roomId: RoomId, limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(200)), 50) }),
      output: v.array(Message),
      description: "The latest messages of a room, oldest first",
    }),
    clear: procedure({
      input: v.object({ roomId: RoomId }),
      output: v.object({ cleared: v.pipe(v.number(), v.description("Messages removed")) }),
      errors: { NOT_CONFIRMED: v.object({ roomId: RoomId }) },
      description: "Clears a room's history once the requester confirms (the server asks with client.confirm); the room is told who cleared it",
    }),
  },
  me: procedure({
    output: v.object({ name: v.string(), connectionId: v.string() }),
    description: "Who this connection is",
  }),
  client: {
    confirm: procedure({
      input: v.object({ question: v.pipe(v.string(), v.maxLength(200)) }),
      output: v.object({ confirmed: v.boolean() }),
      description: "Asks the user a yes-or-no question; the server waits for the answer",
    }),
  },
});

/** The demo contract's type, for `createClient<Contract>`. */
export type Contract = typeof contract;
