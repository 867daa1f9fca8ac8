/**
 * End-to-end in a real Chromium (Debian's /usr/bin/chromium driven by playwright-core): two pages
 * of the demo chat against `server.ts` on this test's runtime, including a server crash and restart.
 * Screenshots land in artifacts/.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { chromiumAvailable, launchChromium, send, WAIT, waitForMessages } from "./fixtures/chromium.ts";
import { RUNTIME } from "./fixtures/serve.ts";
import { freePort, type ServerProcess, startServerProcess } from "./fixtures/server-process.ts";

const ROOM = `e2e-${RUNTIME}`;

/** Texts of the messages a page shows as delivered (not pending), in display order. */
function delivered(page: Page): Promise<string[]> {
  return page.$$eval("#messages .message:not(.pending):not(.failed) .text", (els) => els.map((e) => e.textContent ?? ""));
}

async function badge(page: Page, state: string): Promise<void> {
  await page.waitForSelector(`#status[data-state="${state}"]`, { timeout: WAIT });
}

describe(`demo chat in Chromium against server.ts on ${RUNTIME}`, { skip: !chromiumAvailable && "chromium is not installed" }, () => {
  let browser: Browser;
  let server: ServerProcess;
  let port: number;
  let alice: Page;
  let bob: Page;

  before(async () => {
    port = await freePort();
    server = await startServerProcess(port);
    browser = await launchChromium();
    const open = async (name: string) => {
      const page = await browser.newPage({ viewport: { width: 1180, height: 720 } });
      page.setDefaultTimeout(WAIT);
      await page.goto(`${server.base}/?name=${name}&room=${ROOM}`);
      await badge(page, "open");
      return page;
    };
    alice = await open("alice");
    bob = await open("bob");
  });

  after(async () => {
    mkdirSync("artifacts", { recursive: true });
    for (const [who, page] of [["alice", alice], ["bob", bob]] as const) {
      await page?.screenshot({ path: `artifacts/browser-${RUNTIME}-${who}.png` }).catch(() => {});
    }
    await alice?.setViewportSize({ width: 390, height: 780 }).catch(() => {});
    await alice?.screenshot({ path: `artifacts/browser-${RUNTIME}-alice-mobile.png` }).catch(() => {});
    await browser?.close();
    await server?.kill();
  });

  it("two pages in one room chat with each other", async () => {
    await send(alice, "Hi Bob, this is Alice");
    await waitForMessages(bob, ["Hi Bob, this is Alice"]);
    await send(bob, "Hello Alice!");
    await waitForMessages(alice, ["Hi Bob, this is Alice", "Hello Alice!"]);
    assert.deepEqual(await delivered(alice), ["Hi Bob, this is Alice", "Hello Alice!"]);
    assert.deepEqual(await delivered(bob), ["Hi Bob, this is Alice", "Hello Alice!"]);
  });

  it("presence shows both members on both pages, and typing is shown to the other", async () => {
    for (const page of [alice, bob]) {
      await page.waitForFunction(() => ["alice", "bob"].every((n) => document.querySelector(`#member-list li[data-name="${n}"]`)), undefined, { timeout: WAIT });
      assert.equal(await page.textContent("#member-count"), "2");
    }
    await alice.type("#message-input", "typ");
    await bob.waitForFunction(() => document.querySelector("#typing")?.textContent === "alice is typing…", undefined, { timeout: WAIT });
    await alice.fill("#message-input", "");
  });

  it("the sidebar's room counts are live and agree with the online list; a room nobody is in leaves the sidebar", async () => {
    /** The sidebar's count for a room ("" when it shows none) and the online list's count, on one page. */
    const counts = (page: Page, room: string) =>
      page.evaluate((id) => [document.querySelector(`#room-list li[data-room="${id}"] .badge`)?.textContent ?? "", document.querySelector("#member-count")?.textContent ?? ""], room);
    const agree = (page: Page, room: string, n: string, ms = WAIT) =>
      page.waitForFunction(([id, want]) => {
        const sidebar = document.querySelector(`#room-list li[data-room="${id}"] .badge`)?.textContent;
        return sidebar === want && document.querySelector("#member-count")?.textContent === want;
      }, [room, n] as const, { timeout: ms });
    for (const page of [alice, bob]) await agree(page, ROOM, "2");

    // Bob moves to a new room: both sidebars follow at once, Alice's counts agree with her online list.
    const side = `side-${RUNTIME}`;
    const movedAt = Date.now();
    await bob.fill("#new-room-name", side);
    await bob.press("#new-room-name", "Enter");
    await alice.waitForFunction(() => document.querySelector("#member-count")?.textContent === "1", undefined, { timeout: WAIT });
    const presenceMs = Date.now() - movedAt;
    // Live, not polled: the sidebar agrees within a few times what the online list took (the old poll ran every 10 s).
    await agree(alice, ROOM, "1", Math.max(4 * presenceMs, 1000));
    await alice.waitForSelector(`#room-list li[data-room="${side}"] .badge >> text="1"`, { timeout: WAIT });
    await agree(bob, side, "1");
    assert.deepEqual(await counts(alice, ROOM), ["1", "1"]);

    // Back to the first room: the side room has nobody left and is forgotten by both sidebars.
    await bob.click(`#room-list li[data-room="${ROOM}"] button`);
    for (const page of [alice, bob]) {
      await agree(page, ROOM, "2");
      await page.waitForSelector(`#room-list li[data-room="${side}"]`, { state: "detached", timeout: WAIT });
    }
    await waitForMessages(bob, ["Hi Bob, this is Alice", "Hello Alice!"]);
  });

  it("after a server crash the badge shows reconnecting then online, and messages sent meanwhile arrive once each, in order", async () => {
    await server.kill();
    await badge(alice, "reconnecting");
    await badge(bob, "reconnecting");
    await alice.screenshot({ path: `artifacts/browser-${RUNTIME}-alice-reconnecting.png` }).catch(() => {});
    const outage = ["Sent while offline 1", "Sent while offline 2", "Sent while offline 3"];
    for (const text of outage) await send(bob, text);
    await bob.waitForFunction((n) => document.querySelectorAll("#messages .message.pending").length === n, outage.length, { timeout: WAIT });
    await bob.screenshot({ path: `artifacts/browser-${RUNTIME}-bob-offline.png` }).catch(() => {});

    server = await startServerProcess(port);
    await badge(alice, "open");
    await badge(bob, "open");
    await waitForMessages(alice, outage);
    await waitForMessages(bob, outage);
    const expected = ["Hi Bob, this is Alice", "Hello Alice!", ...outage];
    assert.deepEqual(await delivered(alice), expected);
    assert.deepEqual(await delivered(bob), expected);
    assert.equal(await bob.$$eval("#messages .message.pending, #messages .message.failed", (els) => els.length), 0);
    // The badge reports latency once the connection is back.
    await alice.waitForFunction(() => /Online · \d+ ms/.test(document.querySelector("#status")?.textContent ?? ""), undefined, { timeout: WAIT });
  });

  it("clearing a room's history asks the requester in a dialog (a server-to-client call): Cancel keeps it, Yes clears it and tells the room", async () => {
    const before = await delivered(alice);
    assert.ok(before.length > 0);
    await alice.click("#clear-room");
    await alice.waitForSelector("#confirm[open]", { timeout: WAIT });
    assert.match((await alice.textContent("#confirm-question")) ?? "", new RegExp(`Clear the history of #${ROOM}`));
    assert.equal(await bob.$("#confirm[open]"), null, "only the requester is asked");
    await alice.click("#confirm-no");
    await alice.waitForSelector("#confirm", { state: "hidden", timeout: WAIT });
    assert.deepEqual(await delivered(alice), before);

    await alice.click("#clear-room");
    await alice.waitForSelector("#confirm[open]", { timeout: WAIT });
    await alice.screenshot({ path: `artifacts/browser-${RUNTIME}-alice-confirm.png` }).catch(() => {});
    await alice.click("#confirm-yes");
    await alice.waitForFunction(() => {
      const texts = [...document.querySelectorAll("#messages .message .text")].map((e) => e.textContent);
      return texts.length === 1 && texts[0] === "cleared the history";
    }, undefined, { timeout: WAIT });
    await waitForMessages(bob, ["cleared the history"]);
    assert.equal((await delivered(bob)).at(-1), "cleared the history");
  });
});
