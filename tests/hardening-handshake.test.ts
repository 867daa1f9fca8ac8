/**
 * The opening handshake over raw TCP, alike on both runtimes: a missing or malformed
 * Sec-WebSocket-Key, a missing Connection: Upgrade or a non-GET method get 400, another
 * Sec-WebSocket-Version gets 426 naming 13, none of them upgraded or logged as a server error; and
 * the Origin check takes the server's own origins from configuration (loopback by default), never
 * from the Host header, so a DNS-rebinding page is refused.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import * as v from "valibot";
import { createService, defineContract, procedure, type RunningServer } from "../server/mod.ts";
import { createLogger } from "../server/log.ts";
import { RUNTIME, serve } from "./fixtures/serve.ts";
import { connectTcp } from "./fixtures/tcp-client.ts";

const contract = defineContract({ echo: procedure({ input: v.string(), output: v.string() }) });

/** Sends one raw HTTP request and resolves with its status and lower-cased headers. */
function request(port: number, method: string, headers: Record<string, string | undefined>): Promise<{ status: number; headers: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let text = "";
    const timer = setTimeout(() => (socket.destroy(), reject(new Error("no answer within 5 s"))), 5000);
    socket.on("error", () => {});
    socket.on("connect", () => {
      const lines = [`${method} /ws HTTP/1.1`, ...Object.entries(headers).flatMap(([k, v]) => (v === undefined ? [] : [`${k}: ${v}`]))];
      socket.write(`${lines.join("\r\n")}\r\n\r\n`);
    });
    socket.on("data", (chunk) => {
      text += String(chunk);
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return;
      clearTimeout(timer);
      socket.destroy();
      const [status, ...rest] = text.slice(0, end).split("\r\n");
      const parsed = Object.fromEntries(rest.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      resolve({ status: Number(status!.split(" ")[1]), headers: parsed });
    });
  });
}

describe(`handshake and Origin checks on ${RUNTIME}`, () => {
  let loopback: RunningServer;
  let configured: RunningServer;
  const logged: string[] = [];
  before(async () => {
    const logger = createLogger("warn", (line) => logged.push(line));
    loopback = await serve(createService(contract, { echo: (s) => s }, { logger }));
    configured = await serve(createService(contract, { echo: (s) => s }, { logger, origins: ["https://chat.example"] }));
  });
  after(async () => {
    await loopback.stop();
    await configured.stop();
  });

  const valid = (port: number): Record<string, string | undefined> => ({
    Host: `127.0.0.1:${port}`,
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Protocol": "tether.v1",
  });

  it("a well-formed handshake is upgraded (the baseline the refusals below differ from by one header)", async () => {
    assert.equal((await request(loopback.port, "GET", valid(loopback.port))).status, 101);
    assert.equal((await request(loopback.port, "GET", { ...valid(loopback.port), Connection: "keep-alive, Upgrade" })).status, 101);
  });

  it("a missing or malformed Sec-WebSocket-Key gets 400, not a 500 or an upgrade (regression: Deno answered 500 and upgraded bad keys)", async () => {
    for (const key of [undefined, "", "abc", "AAAAAAAAAAAAAAAAAAAAAAA=", "dGhlIHNhbXBsZSBub25jZQ==x"]) {
      const answer = await request(loopback.port, "GET", { ...valid(loopback.port), "Sec-WebSocket-Key": key });
      assert.equal(answer.status, 400, `key ${JSON.stringify(key)}`);
    }
  });

  it("another or a missing Sec-WebSocket-Version gets 426 with Sec-WebSocket-Version: 13", async () => {
    for (const version of ["8", "14", undefined]) {
      const answer = await request(loopback.port, "GET", { ...valid(loopback.port), "Sec-WebSocket-Version": version });
      assert.equal(answer.status, 426, `version ${version}`);
      assert.equal(answer.headers["sec-websocket-version"], "13");
    }
  });

  it("no Connection: Upgrade, or a POST, gets 400; nothing is logged as a server error", async () => {
    for (const connection of [undefined, "keep-alive"]) {
      assert.equal((await request(loopback.port, "GET", { ...valid(loopback.port), Connection: connection })).status, 400, `Connection ${connection}`);
    }
    assert.equal((await request(loopback.port, "POST", valid(loopback.port))).status, 400);
    assert.deepEqual(logged.filter((l) => /"level":"(error|warn)"/.test(l)), []);
  });

  it("DNS rebinding: Host and Origin naming the same foreign name get 403 (regression: the Host header was taken as the server's own origin)", async () => {
    const port = loopback.port;
    const rebound = { ...valid(port), Host: `rebind.evil.example:${port}`, Origin: `http://rebind.evil.example:${port}` };
    assert.equal((await request(port, "GET", rebound)).status, 403);
    const configuredRebound = { ...valid(configured.port), Host: `rebind.evil.example:${configured.port}`, Origin: `http://rebind.evil.example:${configured.port}` };
    assert.equal((await request(configured.port, "GET", configuredRebound)).status, 403);
  });

  it("with no origins configured, loopback origins on any port pass and others get 403", async () => {
    for (const origin of [`http://127.0.0.1:${loopback.port}`, "http://localhost:5173", "https://[::1]:8443"]) {
      (await connectTcp(loopback.url, { Origin: origin })).destroy();
    }
    for (const origin of ["https://chat.example", "http://localhost.evil.example", "null", "file://localhost"]) {
      await assert.rejects(connectTcp(loopback.url, { Origin: origin }), /HTTP\/1.1 403/, origin);
    }
  });

  it("with origins configured, exactly those pass: the configured public origin, not loopback nor the Host header", async () => {
    (await connectTcp(configured.url, { Origin: "https://chat.example", Host: "chat.example" })).destroy();
    for (const origin of [`http://127.0.0.1:${configured.port}`, "https://chat.example.evil", "http://chat.example"]) {
      await assert.rejects(connectTcp(configured.url, { Origin: origin }), /HTTP\/1.1 403/, origin);
    }
    // A client without Origin (not a browser) is not subject to the check.
    (await connectTcp(configured.url)).destroy();
  });
});
