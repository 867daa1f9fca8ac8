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

/**
 * Creates the chat service.
 * @param options service options; `authenticate` defaults to reading `?name=` (a guest name if absent)
 */
export function createChatService(options: ServiceOptions<Contract, ChatAuth> = {}): Service<Contract, ChatAuth> {
  const rooms = new Map<string, InferOutput<typeof Message>[]>();
  let counter = 0;

  const service: Service<Contract, ChatAuth> = createService<Contract, ChatAuth>(contract, {
    rooms: {
      list: () => {
        const ids = new Set([...rooms.keys()]);
        return [...ids].sort().map((id) => ({ id, members: service.roomMembers(`room:${id}`).length }));
      },
      messages: {
        presence: ({ roomId: _ }, ctx) => ({ key: ctx.auth.name, meta: { name: ctx.auth.name, since: new Date() } }),
        onSubscribe: ({ roomId }, ctx) => {
          ctx.join(`room:${roomId}`);
          if (!rooms.has(roomId)) rooms.set(roomId, []);
        },
        onUnsubscribe: ({ roomId }, ctx) => ctx.leave(`room:${roomId}`),
      },
      typing: {
        authorizePublish: ({ roomId }, message, ctx) => ctx.rooms().has(`room:${roomId}`) && message.name === ctx.auth.name,
      },
    },
    chat: {
      send: async ({ roomId, text }, ctx) => {
        const message = { id: `${Date.now().toString(36)}-${(++counter).toString(36)}`, roomId, author: ctx.auth.name, text, sentAt: new Date() };
        // Published first: a message the broker did not take (Redis down) is neither kept nor
        // acknowledged; the caller gets INTERNAL "the broker is unavailable" and may send it again.
        await ctx.publish("rooms.messages", { roomId }, message);
        const kept = rooms.get(roomId) ?? [];
        kept.push(message);
        if (kept.length > KEPT_PER_ROOM) kept.splice(0, kept.length - KEPT_PER_ROOM);
        rooms.set(roomId, kept);
        return message;
      },
      history: ({ roomId, limit }) => (rooms.get(roomId) ?? []).slice(-limit),
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
