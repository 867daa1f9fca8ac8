/**
 * The demo chat in a real Chromium with WebSocket blocked (playwright's `routeWebSocket` closes
 * every socket before the server's hello, as a proxy that kills upgrades would): it chats over the
 * HTTP fallback, its badge says so, it survives a server restart, and it returns to WebSocket once
 * sockets pass again. The badge's `data-transport` is the `transport` of the client's last "open"
 * state event (public/chat.js), so every badge check here is a check of the state events. Against
 * `server.ts` on this test's runtime.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { chromiumAvailable, launchChromium, send, WAIT, waitForMessages } from "./fixtures/chromium.ts";
import { RUNTIME } from "./fixtures/serve.ts";
import { freePort, type ServerProcess, startServerProcess } from "./fixtures/server-process.ts";

const PROBE_WAIT = 25_000;
const ROOM = `http-${RUNTIME}`;

/** Waits for the badge to show a state on a transport. */
async function badge(page: Page, state: string, transport: string, timeout = WAIT): Promise<void> {
  await page.waitForSelector(`#status[data-state="${state}"][data-transport="${transport}"]`, { timeout });
}

describe(`demo chat in Chromium with WebSocket blocked, against server.ts on ${RUNTIME}`, { skip: !chromiumAvailable && "chromium is not installed" }, () => {
  let browser: Browser;
  let server: ServerProcess;
  let port: number;
  let alice: Page;
  let bob: Page;
  let blocked = true;
  const sockets = { opened: 0 };

  before(async () => {
    port = await freePort();
    server = await startServerProcess(port);
    browser = await launchChromium();
    const open = async (name: string) => {
      const page = await browser.newPage({ viewport: { width: 1180, height: 720 } });
      page.setDefaultTimeout(WAIT);
      // A blocked socket opens and is closed at once, before any hello: what a killing proxy looks like.
      await page.routeWebSocket((url) => url.pathname === "/ws", (ws) => {
        if (blocked) return ws.close({ code: 1008, reason: "blocked by the test" });
        sockets.opened++;
        ws.connectToServer();
      });
      await page.goto(`${server.base}/?name=${name}&room=${ROOM}`);
      await badge(page, "open", "http");
      return page;
    };
    alice = await open("alice");
    bob = await open("bob");
  });

  after(async () => {
    mkdirSync("artifacts", { recursive: true });
    await alice?.screenshot({ path: `artifacts/browser-http-${RUNTIME}-alice.png` }).catch(() => {});
    await browser?.close();
    await server?.kill();
  });

  it("chats over HTTP, and the badge says HTTP", async () => {
    assert.match(await alice.textContent("#status") ?? "", /Online \(HTTP\)/);
    await send(alice, "Hi Bob, over HTTP");
    await waitForMessages(bob, ["Hi Bob, over HTTP"]);
    await send(bob, "Hello Alice, me too");
    await waitForMessages(alice, ["Hi Bob, over HTTP", "Hello Alice, me too"]);
    await bob.waitForFunction(() => ["alice", "bob"].every((n) => document.querySelector(`#member-list li[data-name="${n}"]`)), undefined, { timeout: WAIT });
  });

  it("survives a server restart on HTTP: messages sent during the outage arrive once each", async () => {
    await server.kill();
    await alice.waitForSelector(`#status[data-state="reconnecting"]`, { timeout: WAIT });
    await send(bob, "Sent while the server was down");
    server = await startServerProcess(port);
    await badge(alice, "open", "http");
    await badge(bob, "open", "http");
    await waitForMessages(alice, ["Sent while the server was down"]);
    const shown = await alice.$$eval("#messages .message:not(.pending):not(.failed) .text", (els) => els.map((e) => e.textContent));
    assert.equal(shown.filter((t) => t === "Sent while the server was down").length, 1);
  });

  it("returns to WebSocket once sockets pass again, and keeps chatting", async () => {
    blocked = false;
    await badge(alice, "open", "websocket", PROBE_WAIT);
    await badge(bob, "open", "websocket", PROBE_WAIT);
    assert.ok(sockets.opened >= 2);
    assert.doesNotMatch(await alice.textContent("#status") ?? "", /HTTP/);
    await send(alice, "Back on WebSocket");
    await waitForMessages(bob, ["Back on WebSocket"]);
  });
});
