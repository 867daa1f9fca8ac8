import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Client, createClient, type RpcError } from "../client/mod.ts";
import { createChatService } from "../app/chat.ts";
import type { Contract } from "../app/contract.ts";
import type { RunningServer } from "../server/mod.ts";
import { RUNTIME, serve, until } from "./fixtures/serve.ts";

describe(`the demo chat app on ${RUNTIME}`, () => {
  let server: RunningServer;
  const clients: Client<Contract>[] = [];
  before(async () => {
    server = await serve(createChatService({ presenceWindow: 20 }));
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.stop();
  });

  const join = async (name: string) => {
    const client = createClient<Contract>(server.url, { reconnect: false, params: () => ({ name }) });
    clients.push(client);
    await client.ready();
    return client;
  };

  it("two people in a room see each other's messages, who is online, and who is typing", async () => {
    const ada = await join("ada");
    const bob = await join("bob");
    const adaSees: string[] = [];
    const bobSees: string[] = [];
    const adaRoom = ada.api.rooms.messages.subscribe({ roomId: "lobby" }, { onData: (m) => adaSees.push(`${m.author}: ${m.text}`) });
    const bobRoom = bob.api.rooms.messages.subscribe({ roomId: "lobby" }, { onData: (m) => bobSees.push(`${m.author}: ${m.text}`) });
    await Promise.all([adaRoom.ready, bobRoom.ready]);
    await until(() => adaRoom.presence.count === 2, 3000, "ada sees two people online");
    assert.deepEqual(Object.keys(adaRoom.presence.members).sort(), ["ada", "bob"]);

    const typingSeenByBob: string[] = [];
    const typingSeenByAda: string[] = [];
    await ada.api.rooms.typing.subscribe({ roomId: "lobby" }, { onData: (t) => typingSeenByAda.push(t.name) }).ready;
    await bob.api.rooms.typing.subscribe({ roomId: "lobby" }, { onData: (t) => typingSeenByBob.push(t.name) }).ready;
    await ada.api.rooms.typing.publish({ roomId: "lobby" }, { name: "ada", typing: true });
    await assert.rejects(ada.api.rooms.typing.publish({ roomId: "lobby" }, { name: "bob", typing: true }), (e: RpcError) => e.code === "FORBIDDEN");

    const sent = await ada.api.chat.send({ roomId: "lobby", text: "  hello bob  " });
    assert.equal(sent.text, "hello bob");
    assert.ok(sent.sentAt instanceof Date);
    await bob.api.chat.send({ roomId: "lobby", text: "hi ada" });
    await until(() => adaSees.length === 2 && bobSees.length === 2 && typingSeenByBob.length === 1, 3000, "messages and typing");
    assert.deepEqual(adaSees, ["ada: hello bob", "bob: hi ada"]);
    assert.deepEqual(bobSees, adaSees);
    assert.deepEqual(typingSeenByBob, ["ada"]);
    assert.deepEqual(typingSeenByAda, [], "the sender does not get its own typing notice");

    const history = await bob.api.chat.history({ roomId: "lobby" });
    assert.deepEqual(history.map((m) => m.text), ["hello bob", "hi ada"]);
    assert.deepEqual(await ada.api.rooms.list(), [{ id: "lobby", members: 2 }]);
    assert.deepEqual((await bob.api.me()).name, "bob");

    bob.close();
    await until(() => adaRoom.presence.count === 1, 3000, "bob leaves");
  });

  it("rooms.directory sends the room list at once, then every join and leave; members count names like the online list; an empty room leaves the list", async () => {
    const cy = await join("cy");
    const lists: { id: string; members: number }[][] = [];
    const directory = cy.api.rooms.directory.subscribe(undefined, { onData: (rooms) => lists.push(rooms) });
    await directory.ready;
    await until(() => lists.length === 1, 3000, "the current list");
    const before = lists[0]!.find((r) => r.id === "den");
    assert.equal(before, undefined, "nobody is in den yet");
    const latest = () => lists.at(-1)!.find((r) => r.id === "den")?.members;

    const dee = await join("dee");
    const deeTab2 = await join("dee");
    const rooms = [dee, deeTab2].map((c) => c.api.rooms.messages.subscribe({ roomId: "den" }, {}));
    await Promise.all(rooms.map((r) => r.ready));
    await until(() => latest() === 1, 3000, "den with one member (two tabs of dee)");
    await until(() => rooms[0]!.presence.count === 1, 3000, "the online list to agree: one member");

    const cyRoom = cy.api.rooms.messages.subscribe({ roomId: "den" }, {});
    await cyRoom.ready;
    await until(() => latest() === 2, 3000, "den with two members");
    assert.deepEqual((await cy.api.rooms.list()).find((r) => r.id === "den"), { id: "den", members: 2 });
    await cy.api.chat.send({ roomId: "den", text: "anyone?" });

    for (const r of [...rooms, cyRoom]) r.unsubscribe();
    await until(() => lists.length > 0 && latest() === undefined, 3000, "den forgotten once empty");
    assert.equal((await cy.api.rooms.list()).find((r) => r.id === "den"), undefined);
    assert.deepEqual((await cy.api.chat.history({ roomId: "den" })).map((m) => m.text), ["anyone?"], "its messages are kept for whoever comes back");
    directory.unsubscribe();
  });

  it("an empty message or a bad room id is refused with the reason", async () => {
    const eve = await join("eve");
    const empty = await eve.api.chat.send.safe({ roomId: "lobby", text: "   " });
    assert.equal(empty.ok, false);
    if (!empty.ok) assert.deepEqual((empty.error.data as { issues: { message: string }[] }).issues[0]!.message, "Say something");
    const room = await eve.api.chat.send.safe({ roomId: "No Spaces", text: "x" });
    assert.equal(room.ok, false);
  });

  it("chat.clear asks the requester to confirm (client.confirm): no keeps the history (NOT_CONFIRMED), yes clears it and tells the room", async () => {
    let answer = false;
    const asked: string[] = [];
    const ada = createClient<Contract>(server.url, {
      reconnect: false,
      params: () => ({ name: "ada" }),
      implement: { confirm: ({ question }) => (asked.push(question), { confirmed: answer }) },
    });
    clients.push(ada);
    const bob = await join("bob");
    await ada.api.chat.send({ roomId: "clearing", text: "one" });
    await ada.api.chat.send({ roomId: "clearing", text: "two" });
    const refused = await ada.api.chat.clear.safe({ roomId: "clearing" });
    if (refused.ok || refused.error.code !== "NOT_CONFIRMED") return assert.fail("expected NOT_CONFIRMED");
    assert.deepEqual(refused.error.data, { roomId: "clearing" });
    assert.deepEqual(asked, ["Clear the history of #clearing for everyone?"]);
    assert.equal((await bob.api.chat.history({ roomId: "clearing" })).length, 2);
    // bob implements nothing: the server's question is answered NOT_FOUND and nothing is cleared.
    assert.equal((await bob.api.chat.clear.safe({ roomId: "clearing" })).ok, false);
    assert.equal((await bob.api.chat.history({ roomId: "clearing" })).length, 2);
    answer = true;
    assert.deepEqual(await ada.api.chat.clear({ roomId: "clearing" }), { cleared: 2 });
    const left = await bob.api.chat.history({ roomId: "clearing" });
    assert.deepEqual(left.map((m) => `${m.author}: ${m.text}`), ["ada: cleared the history"]);
  });
});
