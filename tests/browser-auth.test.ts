/**
 * Refused credentials in a real Chromium (Debian's /usr/bin/chromium driven by playwright-core): a
 * page cannot read the HTTP status of a failed WebSocket handshake, so the server answers on the
 * socket (error frame, close 4401 / 4403). The page loads the demo's client bundle from a chat
 * service on this test's runtime whose `authenticate` refuses some tokens.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { chromiumAvailable, launchChromium, WAIT } from "./fixtures/chromium.ts";
import { createChatService } from "../app/chat.ts";
import { staticFiles } from "../app/static.ts";
import { RpcError, type RunningServer } from "../server/mod.ts";
import { RUNTIME, serve } from "./fixtures/serve.ts";


/** What the page saw of one client's life. */
interface Seen {
  states: { state: string; code?: number; reason: string; error?: string }[];
  ready: string;
  call: string;
  name?: string;
}

/**
 * Runs in the page: a client of the demo bundle with `token` (and, if `refreshTo` is set, a
 * refreshAuth that switches to it), through the HTTP fallback's constructor when `fallback`.
 */
function runClient(page: Page, token: string, refreshTo: string | undefined, fallback: boolean): Promise<Seen> {
  return page.evaluate(async ({ token, refreshTo, fallback }) => {
    // Paths of the page's origin, imported by the browser: nothing the type checker can resolve.
    const bundles = ["/tether-chat.js", "/tether-http.js"];
    const { createChatClient } = (await import(bundles[0]!)) as { createChatClient: typeof import("../client/generated/chat.ts").createChatClient };
    const { httpFallback } = (await import(bundles[1]!)) as typeof import("../client/http-fallback.ts");
    let current = token;
    const states: Seen["states"] = [];
    const client = createChatClient(`ws://${location.host}/ws`, {
      params: () => ({ token: current }),
      reconnect: { min: 5, max: 20 },
      ...(fallback ? { WebSocket: httpFallback().WebSocket } : {}),
      ...(refreshTo === undefined ? {} : {
        refreshAuth: () => {
          current = refreshTo;
          return true;
        },
      }),
    });
    client.on("state", (state, change) =>
      states.push({ state, ...(change.code === undefined ? {} : { code: change.code }), reason: change.reason, ...(change.error ? { error: change.error.code } : {}) })
    );
    const outcome = (p: Promise<unknown>) => p.then(() => "ok", (e: { code?: string }) => e.code ?? String(e));
    const ready = await outcome(client.ready());
    const seen: Seen = { states, ready, call: "" };
    try {
      seen.name = (await client.api.me()).name;
      seen.call = "ok";
    } catch (e) {
      seen.call = (e as { code?: string }).code ?? String(e);
    }
    client.close();
    return seen;
  }, { token, refreshTo, fallback });
}

describe(`refused credentials in Chromium against ${RUNTIME}`, { skip: !chromiumAvailable && "chromium is not installed" }, () => {
  let browser: Browser;
  let server: RunningServer;
  let page: Page;
  const handshakes: string[] = [];

  before(async () => {
    const service = createChatService({
      authenticate: (request) => {
        const token = new URL(request.url).searchParams.get("token") ?? "";
        handshakes.push(token);
        if (token === "banned") throw new RpcError("FORBIDDEN", "This account is suspended");
        if (!token.startsWith("valid-")) throw new RpcError("UNAUTHORIZED", "Session expired: sign in again");
        return { name: token.slice(6) };
      },
    });
    server = await serve(service, { fetch: staticFiles() });
    browser = await launchChromium();
    page = await browser.newPage();
    page.setDefaultTimeout(WAIT);
    // The demo page without a name shows its join form and opens no socket: a clean page with the bundles.
    await page.goto(server.url.replace("ws://", "http://").replace(/\/ws$/, "/"));
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const tries = (token: string) => handshakes.filter((t) => t === token).length;

  for (const fallback of [false, true]) {
    const via = fallback ? "through the HTTP fallback's constructor (as the demo)" : "over a plain WebSocket";
    it(`an expired token ends in state unauthorized with UNAUTHORIZED and close 4401, once, ${via}`, async () => {
      const token = `stale-${fallback}`;
      const seen = await runClient(page, token, undefined, fallback);
      assert.equal(seen.ready, "UNAUTHORIZED");
      assert.equal(seen.call, "UNAUTHORIZED");
      assert.deepEqual(seen.states.at(-2), { state: "unauthorized", code: 4401, reason: "Session expired: sign in again", error: "UNAUTHORIZED" });
      assert.deepEqual(seen.states.at(-1), { state: "closed", code: 1000, reason: "client closed" });
      assert.equal(tries(token), 1, "one handshake: no reconnect loop, no HTTP attempt");
    });

    it(`a banned account gets FORBIDDEN and close 4403 ${via}`, async () => {
      const seen = await runClient(page, "banned", undefined, fallback);
      assert.equal(seen.ready, "FORBIDDEN");
      assert.deepEqual(seen.states.find((s) => s.state === "unauthorized"), { state: "unauthorized", code: 4403, reason: "This account is suspended", error: "FORBIDDEN" });
    });

    it(`refreshAuth turns a refusal into a connection with the fresh token ${via}`, async () => {
      const token = `old-${fallback}`;
      const seen = await runClient(page, token, "valid-ada", fallback);
      assert.equal(seen.ready, "ok");
      assert.equal(seen.name, "ada");
      assert.deepEqual(seen.states.slice(0, 2).map((s) => [s.state, s.code]), [["reconnecting", 4401], ["open", undefined]]);
      assert.equal(tries(token), 1);
    });
  }
});
