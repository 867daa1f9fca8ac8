/**
 * The demo service: chat handlers over an in-memory message store, served by `server.ts`.
 * @module
 */
import type { InferOutput } from "valibot";
import { createService, type Service, type ServiceOptions } from "../server/mod.ts";
import { type Contract, contract, type Message } from "./contract.ts";

/** Who a connection is: its display name, from the `name` query parameter. */
export interface ChatAuth {
  name: string;
}

/** Messages kept per room for `chat.history`. */
const KEPT_PER_ROOM = 200;

/** Rooms whose messages are kept; past it the least recently used room without members is forgotten. */
const KEPT_ROOMS = 100;

/**
 * Creates the chat service.
 * @param options service options; `authenticate` defaults to reading `?name=` (a guest name if absent)
 */
export function createChatService(options: ServiceOptions<Contract, ChatAuth> = {}): Service<Contract, ChatAuth> {
  /** Messages by room, least recently used first. */
  const rooms = new Map<string, InferOutput<typeof Message>[]>();
  /** Who is in each room: room id -> member name -> that member's subscriptions (tabs) there. A room leaves it with its last member. */
  const members = new Map<string, Map<string, number>>();
  let counter = 0;

  const directory = () => [...members].map(([id, names]) => ({ id, members: names.size })).sort((a, b) => (a.id < b.id ? -1 : 1));
  let announcing = false;
  /** Publishes the directory once per burst of joins and leaves (a closing tab leaves every room at once). */
  const announce = () => {
    if (announcing) return;
    announcing = true;
    queueMicrotask(() => {
      announcing = false;
      service.publish("rooms.directory", undefined, directory());
    });
  };
  const enter = (roomId: string, name: string, delta: 1 | -1) => {
    const names = members.get(roomId) ?? new Map<string, number>();
    const tabs = (names.get(name) ?? 0) + delta;
    if (tabs > 0) names.set(name, tabs);
    else names.delete(name);
    if (names.size > 0) members.set(roomId, names);
    else members.delete(roomId);
    announce();
  };
  /** The room's message list, marked most recently used; the oldest room nobody is in goes past KEPT_ROOMS. */
  const kept = (roomId: string) => {
    const list = rooms.get(roomId) ?? [];
    rooms.delete(roomId);
    rooms.set(roomId, list);
    if (rooms.size > KEPT_ROOMS) {
      for (const id of rooms.keys()) if (!members.has(id) && id !== roomId && rooms.delete(id)) break;
    }
    return list;
  };

  /** Publishes a message to a room and keeps it for `chat.history`. */
  const post = async (roomId: string, author: string, text: string) => {
    const message = { id: `${Date.now().toString(36)}-${(++counter).toString(36)}`, roomId, author, text, sentAt: new Date() };
    // Published first: a message the broker did not take (Redis down) is neither kept nor
    // acknowledged; the caller gets INTERNAL "the broker is unavailable" and may send it again.
    await service.publish("rooms.messages", { roomId }, message);
    const list = kept(roomId);
    list.push(message);
    if (list.length > KEPT_PER_ROOM) list.splice(0, list.length - KEPT_PER_ROOM);
    return message;
  };

  const service: Service<Contract, ChatAuth> = createService<Contract, ChatAuth>(contract, {
    rooms: {
      list: directory,
      // The current list for the new subscriber alone; everyone gets each change through announce().
      directory: { onSubscribe: (_, ctx) => ctx.publish("rooms.directory", undefined, directory(), { connection: ctx.connectionId }) },
      messages: {
        presence: ({ roomId: _ }, ctx) => ({ key: ctx.auth.name, meta: { name: ctx.auth.name, since: new Date() } }),
        onSubscribe: ({ roomId }, ctx) => {
          ctx.join(`room:${roomId}`);
          enter(roomId, ctx.auth.name, 1);
        },
        onUnsubscribe: ({ roomId }, ctx) => {
          ctx.leave(`room:${roomId}`);
          enter(roomId, ctx.auth.name, -1);
        },
      },
      typing: {
        authorizePublish: ({ roomId }, message, ctx) => ctx.rooms().has(`room:${roomId}`) && message.name === ctx.auth.name,
      },
    },
    chat: {
      send: ({ roomId, text }, ctx) => post(roomId, ctx.auth.name, text),
      history: ({ roomId, limit }) => (rooms.get(roomId) ?? []).slice(-limit),
      // The requester confirms in its own window (a server-to-client call); the room then learns who cleared it.
      clear: async ({ roomId }, ctx) => {
        const { confirmed } = await ctx.client.confirm({ question: `Clear the history of #${roomId} for everyone?` }, { signal: ctx.signal });
        if (!confirmed) throw ctx.error("NOT_CONFIRMED", "The history was kept", { roomId });
        const cleared = kept(roomId).splice(0).length;
        await post(roomId, ctx.auth.name, "cleared the history");
        return { cleared };
      },
    },
    me: (_, ctx) => ({ name: ctx.auth.name, connectionId: ctx.connectionId }),
  }, {
    authenticate: (request) => {
      const name = new URL(request.url).searchParams.get("name")?.trim().slice(0, 32);
      return { name: name || `guest-${Math.random().toString(36).slice(2, 6)}` };
    },
    ...options,
  });
  return service;
}
