import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Contract } from "../app/contract.ts";
import { createChatService } from "../app/chat.ts";
import { type ChatContract, createChatClient, type Message, RpcError } from "../client/generated/chat.ts";
import type { RunningServer } from "../server/mod.ts";
import type { AnyProcedure, AnyTopic } from "../shared/contract.ts";
import type { CallInput, CallOutput, EntryAt, PathsOf, TopicMessageIn, TopicMessageOut, TopicParamsIn, TopicPresence } from "../shared/contract-types.ts";
import { buildClient, GZIP_BUDGET } from "../scripts/build-client.ts";
import { generateFiles } from "../scripts/codegen.ts";
import { RUNTIME, serve } from "./fixtures/serve.ts";

// ---- type tests: the generated types are exactly what the contract's schemas infer ----

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type ProcedurePaths = PathsOf<Contract, AnyProcedure>;
type TopicPaths = PathsOf<Contract, AnyTopic>;
type ProcedureAgreement = {
  [P in ProcedurePaths]: Same<CallInput<EntryAt<Contract, P>>, CallInput<EntryAt<ChatContract, P>>> extends true
    ? Same<CallOutput<EntryAt<Contract, P>>, CallOutput<EntryAt<ChatContract, P>>>
    : false;
};
type TopicAgreement = {
  [P in TopicPaths]: [
    Same<TopicParamsIn<EntryAt<Contract, P>>, TopicParamsIn<EntryAt<ChatContract, P>>>,
    Same<TopicMessageIn<EntryAt<Contract, P>>, TopicMessageIn<EntryAt<ChatContract, P>>>,
    Same<TopicMessageOut<EntryAt<Contract, P>>, TopicMessageOut<EntryAt<ChatContract, P>>>,
    Same<TopicPresence<EntryAt<Contract, P>>, TopicPresence<EntryAt<ChatContract, P>>>,
  ] extends [true, true, true, true] ? true : false;
};
/** `true` only when no member of the union `T` is `false`. */
type AllTrue<T> = false extends T ? false : true;
const proceduresAgree: AllTrue<ProcedureAgreement[ProcedurePaths]> = true;
const topicsAgree: AllTrue<TopicAgreement[TopicPaths]> = true;
// Both sides list the same paths.
const samePaths: Same<PathsOf<ChatContract, AnyProcedure | AnyTopic>, PathsOf<Contract, AnyProcedure | AnyTopic>> = true;

const CODEGEN_ARGS = RUNTIME === "deno" ? ["run", "--allow-all", "scripts/codegen.ts"] : ["scripts/codegen.ts"];

describe(`generated client (${RUNTIME})`, () => {
  let server: RunningServer;
  before(async () => {
    server = await serve(createChatService());
  });
  after(() => server.stop());

  it("has every procedure's and topic's types equal to the contract's schema types", () => {
    assert.deepEqual([proceduresAgree, topicsAgree, samePaths], [true, true, true]);
  });

  it("checked-in output matches what codegen generates now", async () => {
    const stale = (await generateFiles()).filter((file) => readFileSync(file.path, "utf8") !== file.text).map((f) => f.path);
    assert.deepEqual(stale, [], "stale generated files: run `deno task codegen`");
  });

  it("codegen --check exits 0 on the checked-in output", () => {
    const result = spawnSync(process.execPath, [...CODEGEN_ARGS, "--check"], { encoding: "utf8", timeout: 60_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /up to date/);
  });

  it("imports nothing from app/ or server/, and carries the schemas' descriptions as doc comments", () => {
    const text = readFileSync("client/generated/chat.ts", "utf8");
    const imports = [...text.matchAll(/from "([^"]+)"/g)].map((m) => m[1]);
    assert.ok(imports.length > 0);
    for (const path of imports) assert.doesNotMatch(path!, /app\/|server\//);
    assert.match(text, /\/\*\* When the server accepted the message \*\/\n\s+sentAt: Date;/);
    assert.match(text, /\/\*\* Sends a message to a room; every subscriber \(the sender included\) receives it \*\/\n\s+send: /);
    // Input and output differ where the schema has a default: optional to send, always there in the handler.
    assert.match(text, /limit\?: number \| undefined;/);
  });

  it("createChatClient talks to the real service with typed Dates and typed errors", async () => {
    const client = createChatClient(server.url, { params: () => ({ name: "ada" }) });
    try {
      const sent: Message = await client.api.chat.send({ roomId: "codegen", text: "  typed  " });
      assert.equal(sent.text, "typed");
      assert.ok(sent.sentAt instanceof Date);
      const history = await client.api.chat.history({ roomId: "codegen" });
      assert.deepEqual(history.map((m) => m.id), [sent.id]);
      // @ts-expect-error roomId is required
      const error = await client.api.chat.send({ text: "x" }).catch((e: unknown) => e);
      assert.ok(error instanceof RpcError);
      assert.equal(error.code, "INVALID_INPUT");
    } finally {
      client.close();
    }
  });

  it("bundles for browsers without runtime globals, app/ or server/ code", async () => {
    const bundle = await buildClient();
    assert.deepEqual(bundle.runtimeGlobals, []);
    const paths = bundle.inputs.map((i) => i.path);
    // The payload codec writes superjson's format itself (tests/codec-property.test.ts checks it against superjson).
    assert.ok(paths.some((p) => p.includes("shared/payload-decode.ts")), "the payload codec is part of the client");
    for (const p of paths) assert.doesNotMatch(p, /^(app|server)\//);
  });

  it(`bundle stays under ${GZIP_BUDGET / 1024} KB gzipped with the payload codec, and valibot schemas tree-shake out`, async () => {
    const bundle = await buildClient();
    const valibot = bundle.inputs.find((i) => i.path.includes("valibot"));
    assert.equal(valibot, undefined, `valibot adds ${valibot?.bytes} minified bytes to the client (protocol.ts schemas are not tree-shaken)`);
    assert.ok(bundle.gzipBytes <= GZIP_BUDGET, `client bundle is ${bundle.gzipBytes} bytes gzipped, over ${GZIP_BUDGET}`);
  });
});
