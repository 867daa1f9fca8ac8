import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";
import { contract } from "../app/contract.ts";
import { createChatService } from "../app/chat.ts";
import { staticFiles } from "../app/static.ts";
import type { RunningServer } from "../server/mod.ts";
import { clientProcedures, flattenContract } from "../shared/contract.ts";
import { RUNTIME, serve } from "./fixtures/serve.ts";

/** The checked-in document (codegen's --check keeps it equal to what the contract generates). */
const text = readFileSync("asyncapi.json", "utf8");
const doc = JSON.parse(text) as {
  asyncapi: string;
  channels: Record<string, { messages: Record<string, { payload: unknown }> }>;
  operations: Record<string, { action: string }>;
  components: { schemas: Record<string, { properties?: Record<string, { type?: string; format?: string; description?: string }> }> };
};

describe(`AsyncAPI document (${RUNTIME})`, () => {
  let server: RunningServer;
  let base: string;
  before(async () => {
    server = await serve(createChatService(), { fetch: staticFiles() });
    base = `http://127.0.0.1:${server.port}`;
  });
  after(() => server.stop());

  it("is a valid AsyncAPI 3.0 document (official parser, no errors)", async () => {
    const { document, diagnostics } = await new Parser().parse(text);
    const errors = diagnostics.filter((d) => d.severity === 0).map((d) => `${d.path.join(".")}: ${d.message}`);
    assert.deepEqual(errors, []);
    assert.equal(document?.version(), "3.0.0");
    assert.equal(document?.channels().length, flattenContract(contract).size + clientProcedures(contract).size);
  });

  it("describes every procedure as a call with a reply, and every topic as subscribe and receive", () => {
    for (const [path, entry] of flattenContract(contract)) {
      assert.ok(doc.channels[path], `channel ${path}`);
      if (entry["~kind"] === "procedure") {
        const declared = entry.errors === undefined ? [] : ["error"];
        assert.deepEqual(Object.keys(doc.channels[path]!.messages), ["call", "result", ...declared], path);
        assert.equal(doc.operations[path]?.action, "send");
      } else {
        assert.equal(doc.operations[`${path}.subscribe`]?.action, "send");
        assert.equal(doc.operations[`${path}.receive`]?.action, "receive");
        assert.equal(Boolean(doc.operations[`${path}.publish`]), entry.clientPublish);
      }
    }
  });

  it("lists each procedure's declared errors with their data's schema, and the client section as calls the client receives", () => {
    const error = doc.channels["chat.clear"]!.messages.error!.payload as { oneOf: { properties: { code: unknown; data: { properties: { json: unknown } } } }[] };
    assert.deepEqual(error.oneOf.map((variant) => variant.properties.code), [{ const: "NOT_CONFIRMED" }]);
    assert.deepEqual(error.oneOf[0]!.properties.data.properties.json, { $ref: "#/components/schemas/ChatClearErrorNotConfirmed" });
    assert.deepEqual(doc.components.schemas.ChatClearErrorNotConfirmed?.properties?.roomId?.description, "Room id");
    for (const [method] of clientProcedures(contract)) {
      const path = `client.${method}`;
      assert.equal(doc.operations[path]?.action, "receive", path);
      const call = doc.channels[path]!.messages.call!.payload as { properties: { method: unknown; id: unknown } };
      assert.deepEqual(call.properties.method, { const: method });
      assert.deepEqual(call.properties.id, { $ref: "#/components/schemas/ServerRequestId" });
    }
  });

  it("carries each payload's JSON Schema, Dates as date-time strings, with the schemas' descriptions", () => {
    const message = doc.components.schemas.RoomsMessagesMessage!;
    assert.deepEqual(message.properties?.sentAt, { type: "string", format: "date-time", description: "When the server accepted the message" });
    assert.equal(doc.components.schemas.RoomsMessagesPresence?.properties?.since?.format, "date-time");
    const schemas = JSON.parse(readFileSync("client/generated/schemas.json", "utf8")) as { definitions: Record<string, unknown> };
    for (const [name, schema] of Object.entries(schemas.definitions)) assert.deepEqual(doc.components.schemas[name], schema, name);
  });

  it("is served by the service at /asyncapi.json, with the payload schemas at /schemas.json and the demo page at /", async () => {
    const res = await fetch(`${base}/asyncapi.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
    assert.deepEqual(await res.json(), doc);
    assert.equal((await fetch(`${base}/schemas.json`)).status, 200);
    const page = await fetch(`${base}/`);
    assert.match(await page.text(), /<title>Tether Chat<\/title>/);
    const bundle = await fetch(`${base}/tether-chat.js`);
    assert.match(bundle.headers.get("content-type") ?? "", /javascript/);
    await bundle.arrayBuffer();
    for (const path of ["/../package.json", "/%2e%2e/package.json", "/.gitignore", "/missing.js"]) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 404, path);
      await res.arrayBuffer();
    }
  });
});
