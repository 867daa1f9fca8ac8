// The demo chat page: rooms, history, presence, typing, a connection badge, and clearing a room's
// history (the server asks this page to confirm: a server-to-client call), all through the
// generated client (tether-chat.js, built by `deno task codegen` from client/generated/chat.ts).
import { createChatClient } from "./tether-chat.js";
import { httpFallback } from "./tether-http.js";

const DEFAULT_ROOMS = ["lobby", "random", "help"];
const TYPING_SHOWN_MS = 4000;
const TYPING_REPEAT_MS = 1500;

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
let name = (query.get("name") ?? localStorage.getItem("tether.name") ?? "").trim().slice(0, 32);

if (name === "") {
  $("join").hidden = false;
  $("join-name").focus();
  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    name = $("join-name").value.trim().slice(0, 32);
    if (name === "") return;
    localStorage.setItem("tether.name", name);
    $("join").hidden = true;
    start();
  });
} else {
  start();
}

function start() {
  $("app").hidden = false;
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  // A short backoff cap: a chat should be back within seconds of its server.
  // Where WebSocket is blocked the chat continues over HTTP, and moves back once it passes again.
  // `implement`: what the server may call on this page; client.confirm asks the user in a dialog.
  const client = createChatClient(url, { params: () => ({ name }), reconnect: { max: 2000 }, WebSocket: httpFallback().WebSocket, implement: { confirm } });
  const view = { room: "", messages: new Map(), pending: [], typing: new Map(), rooms: new Map(), subs: [] };
  let latency;
  // "websocket" or "http": named by each "open" state event (the fallback's socket supplies it).
  let transport = "";

  $("me-name").textContent = name;
  paintAvatar($("me-avatar"), name);

  // ---- connection badge ----
  const badge = () => {
    const state = client.state;
    $("status").dataset.state = state;
    $("status").dataset.transport = transport;
    $("app").dataset.state = state;
    $("status-text").textContent = state === "open"
      ? `Online${transport === "http" ? " (HTTP)" : ""}${latency === undefined ? "" : ` · ${latency} ms`}`
      : state === "reconnecting" ? "Reconnecting…" : state === "connecting" ? "Connecting…" : state === "unauthorized" ? "Refused" : "Offline";
  };
  const measure = async () => {
    if (client.state !== "open") return;
    const started = performance.now();
    try {
      await client.api.me(undefined, { timeout: 5000 });
      latency = Math.max(1, Math.round(performance.now() - started));
    } catch {
      latency = undefined;
    }
    badge();
  };
  client.on("state", (state, change) => {
    if (state === "open") transport = change.transport ?? "";
    if (state !== "open") {
      // Nothing is known about the others while offline: no latency, no stale "is typing".
      latency = undefined;
      view.typing.clear();
      renderTyping();
    }
    badge();
    if (state === "open") void measure();
  });
  setInterval(measure, 10_000);
  badge();

  // ---- rooms: the directory topic sends the whole list at once, then again on every join or leave ----
  client.api.rooms.directory.subscribe(undefined, {
    onData: (listed) => {
      view.rooms = new Map(listed.map((r) => [r.id, r.members]));
      renderRooms();
    },
  });

  function renderRooms() {
    const ids = [...new Set([...DEFAULT_ROOMS, ...view.rooms.keys(), view.room])].filter(Boolean).sort((a, b) =>
      DEFAULT_ROOMS.includes(b) - DEFAULT_ROOMS.includes(a) || a.localeCompare(b)
    );
    $("room-list").replaceChildren(...ids.map((id) => {
      const button = el("button", { type: "button" }, [el("span", {}, `# ${id}`)]);
      const members = view.rooms.get(id);
      if (members) button.append(el("span", { class: "badge", title: `${members} online` }, String(members)));
      if (id === view.room) button.setAttribute("aria-current", "true");
      button.addEventListener("click", () => joinRoom(id));
      return el("li", { "data-room": id }, [button]);
    }));
  }

  $("new-room").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $("new-room-name").value.trim().toLowerCase().replace(/[^a-z0-9-]+/g, "-").slice(0, 32);
    $("new-room-name").value = "";
    if (id) joinRoom(id);
  });

  function joinRoom(id) {
    if (id === view.room) return;
    for (const sub of view.subs) sub.unsubscribe();
    view.room = id;
    view.messages = new Map();
    view.pending = [];
    view.typing.clear();
    history.replaceState(null, "", `?${new URLSearchParams({ ...Object.fromEntries(query), room: id })}`);
    $("room-name").textContent = id;
    $("empty-room").textContent = `#${id}`;
    $("message-input").placeholder = `Message #${id}`;
    renderRooms();
    renderMessages();
    renderMembers({ members: {} });
    renderTyping();
    const messages = client.api.rooms.messages.subscribe({ roomId: id }, {
      onData: (message) => addMessages([message]),
      onPresence: (presence) => renderMembers(presence),
      // First subscribe, or a resubscribe that could not replay what was missed: load the history.
      onSubscribed: ({ recovered, resubscribed }) => {
        if (!resubscribed || !recovered) void loadHistory(id);
      },
    });
    const typing = client.api.rooms.typing.subscribe({ roomId: id }, {
      onData: ({ name: who, typing: on }) => {
        if (who === name) return;
        if (on) view.typing.set(who, Date.now() + TYPING_SHOWN_MS);
        else view.typing.delete(who);
        renderTyping();
      },
    });
    view.subs = [messages, typing];
    $("message-input").focus();
  }

  async function loadHistory(id) {
    try {
      const messages = await client.api.chat.history({ roomId: id, limit: 100 });
      if (id === view.room) addMessages(messages);
    } catch {
      // Shown again on the next (re)subscribe.
    }
  }

  // ---- messages: one entry per server id, whatever path it came by (event, send result, history) ----
  function addMessages(messages) {
    for (const m of messages) if (m.roomId === view.room) view.messages.set(m.id, m);
    renderMessages();
  }

  function renderMessages() {
    const list = $("messages");
    const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    const sorted = [...view.messages.values()].sort((a, b) => a.sentAt - b.sentAt || (a.id < b.id ? -1 : 1));
    const items = [];
    let day = "";
    for (const m of sorted) {
      const label = m.sentAt.toLocaleDateString(undefined, { weekday: "long", month: "short", day: "numeric" });
      if (label !== day) items.push(el("li", { class: "day" }, (day = label)));
      items.push(messageItem(m.author, m.text, m.sentAt, m.author === name ? "mine" : "", "", m.id));
    }
    for (const p of view.pending) {
      items.push(messageItem(name, p.text, p.at, `mine ${p.failed ? "failed" : "pending"}`, p.failed ? "Not sent · click to retry" : "Sending…", "", p));
    }
    list.replaceChildren(...items);
    $("empty").hidden = items.length > 0;
    if (stick) list.scrollTop = list.scrollHeight;
  }

  function messageItem(author, text, at, classes, state, id, pending) {
    const avatar = el("span", { class: "avatar" }, initials(author));
    paintAvatar(avatar, author);
    const meta = el("div", { class: "meta" }, [
      el("span", { class: "author" }, author),
      el("time", { datetime: at.toISOString() }, at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })),
    ]);
    if (state) meta.append(el("span", { class: "state" }, state));
    const item = el("li", { class: `message ${classes}`, "data-id": id }, [avatar, el("div", { class: "bubble" }, [meta, el("div", { class: "text" }, text)])]);
    if (pending?.failed) item.addEventListener("click", () => send(pending));
    return item;
  }

  // ---- sending: shown at once as pending; queued by the client while offline ----
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("message-input").value.trim();
    if (text === "") return;
    $("message-input").value = "";
    stopTyping();
    send({ text, at: new Date(), failed: false, room: view.room });
  });

  async function send(entry) {
    entry.failed = false;
    if (!view.pending.includes(entry)) view.pending.push(entry);
    renderMessages();
    try {
      const message = await client.api.chat.send({ roomId: entry.room, text: entry.text }, { timeout: 60_000, retry: true });
      view.pending = view.pending.filter((p) => p !== entry);
      addMessages([message]);
    } catch {
      entry.failed = true;
      renderMessages();
    }
  }

  // ---- typing indicator ----
  let lastTypingSent = 0;
  let typingOff;
  $("message-input").addEventListener("input", () => {
    if ($("message-input").value.trim() === "") return stopTyping();
    if (Date.now() - lastTypingSent > TYPING_REPEAT_MS) publishTyping(true);
    clearTimeout(typingOff);
    typingOff = setTimeout(stopTyping, TYPING_SHOWN_MS - 1000);
  });
  $("message-input").addEventListener("blur", () => stopTyping());

  function stopTyping() {
    clearTimeout(typingOff);
    if (lastTypingSent !== 0) publishTyping(false);
  }

  function publishTyping(on) {
    lastTypingSent = on ? Date.now() : 0;
    // Typing is ephemeral: never queue it while offline.
    if (client.state !== "open" || view.room === "") return;
    client.api.rooms.typing.publish({ roomId: view.room }, { name, typing: on }).catch(() => {});
  }

  function renderTyping() {
    const now = Date.now();
    for (const [who, until] of view.typing) if (until < now) view.typing.delete(who);
    const who = [...view.typing.keys()];
    $("typing").textContent = who.length === 0 ? "" : who.length === 1 ? `${who[0]} is typing…`
      : who.length === 2 ? `${who[0]} and ${who[1]} are typing…` : "Several people are typing…";
  }
  setInterval(renderTyping, 1000);

  // ---- presence ----
  function renderMembers(presence) {
    const names = Object.keys(presence.members).sort((a, b) => (b === name) - (a === name) || a.localeCompare(b));
    $("member-count").textContent = String(names.length);
    $("member-list").replaceChildren(...names.map((member) => {
      const avatar = el("span", { class: "avatar small" }, initials(member));
      paintAvatar(avatar, member);
      const tabs = presence.members[member]?.length ?? 1;
      return el("li", { "data-name": member, title: tabs > 1 ? `${tabs} tabs` : "" }, [
        avatar,
        el("span", { class: "name" }, member),
        member === name ? el("span", { class: "you" }, "you") : "",
      ]);
    }));
  }

  // ---- clearing a room's history: the server calls client.confirm on this page before it clears ----
  $("clear-room").addEventListener("click", async () => {
    const room = view.room;
    try {
      await client.api.chat.clear({ roomId: room }, { timeout: 90_000 });
      if (room === view.room) {
        view.messages = new Map();
        void loadHistory(room);
      }
    } catch {
      // NOT_CONFIRMED (the user said no), or the server gave up waiting: the history stays.
    }
  });

  joinRoom((query.get("room") ?? "lobby").toLowerCase());
}

/** Implements client.confirm: shows the server's question, answers with the user's choice (no when the server stops waiting). */
function confirm({ question }, { signal }) {
  const dialog = $("confirm");
  $("confirm-question").textContent = question;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener("abort", stop);
      resolve({ confirmed: dialog.returnValue === "yes" });
    };
    const stop = () => dialog.close("no");
    dialog.addEventListener("close", done, { once: true });
    signal.addEventListener("abort", stop, { once: true });
  });
}

// ---- small DOM helpers (text only: nothing a user typed is ever parsed as HTML) ----
function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== "") node.setAttribute(k, v);
  node.append(...(typeof children === "string" ? [children] : children));
  return node;
}

function initials(who) {
  return who.split(/[\s_-]+/).filter(Boolean).slice(0, 2).map((p) => p[0].toUpperCase()).join("") || "?";
}

function paintAvatar(node, who) {
  let hash = 0;
  for (const c of who) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  node.textContent = initials(who);
  node.style.background = `hsl(${hash % 360} 55% 48%)`;
}
