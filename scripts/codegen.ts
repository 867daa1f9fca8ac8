/**
 * `deno task codegen` / `bun run codegen`: from the chat contract (app/contract.ts) writes
 * - client/generated/chat.ts     the self-contained typed client (`createChatClient`)
 * - client/generated/schemas.json the JSON Schema of every payload
 * - asyncapi.json                 the AsyncAPI 3.0 document (served at /asyncapi.json)
 * - public/tether-chat.js         the browser bundle the demo page loads
 * - public/tether-http.js         the HTTP fallback's bundle (opt-in, loaded beside it)
 * With `--check` it writes nothing and exits 1 when any checked-in file differs from what it would write.
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import * as contractModule from "../app/contract.ts";
import { generateAsyncApi, payloadSchemas } from "./codegen/asyncapi.ts";
import { generateClientModule } from "./codegen/client-module.ts";
import { buildClient, CLIENT_BUNDLE, CLIENT_ENTRY, FALLBACK_BUNDLE, FALLBACK_ENTRY, GZIP_BUDGET, kilobytes } from "./build-client.ts";

/** One generated file: where it goes and its exact text. */
export interface GeneratedFile {
  path: string;
  text: string;
}

/** The service's description in the AsyncAPI document. */
const DESCRIPTION = [
  "The Tether demo chat service: rooms with history, presence and a typing indicator.",
  "Every client opens one WebSocket at `/ws` offering the subprotocol `tether.v1`; the server speaks first (`hello`).",
  "Each procedure and topic below is a channel on that socket; its messages are the frames of PROTOCOL.md, with",
  "the contract's payload as a superjson value `{ json, meta }` (`json` follows the schemas in components).",
].join(" ");

/** Exported valibot schemas of the contract module, which become named types (`Message`). */
function namedSchemas(): Record<string, unknown> {
  const named: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(contractModule)) {
    if (typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "schema") named[name] = value;
  }
  return named;
}

/** Every file codegen writes, generated in memory. */
export async function generateFiles(): Promise<GeneratedFile[]> {
  const { contract } = contractModule;
  const version = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
  const client = generateClientModule({ contract, namedSchemas: namedSchemas(), source: "app/contract.ts", serviceName: "Chat" });
  const asyncapi = generateAsyncApi({ contract, title: "Tether chat", version, description: DESCRIPTION });
  const schemas = {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "Tether chat payloads",
    description: "The JSON form of every procedure input/output and topic params/message/presence (Dates are ISO strings)",
    definitions: payloadSchemas(contract),
  };
  const files: GeneratedFile[] = [
    { path: CLIENT_ENTRY, text: client },
    { path: "client/generated/schemas.json", text: `${JSON.stringify(schemas, null, 2)}\n` },
    { path: "asyncapi.json", text: `${JSON.stringify(asyncapi, null, 2)}\n` },
  ];
  // The bundle is built from the client module just generated, which may not be on disk yet
  // (esbuild still needs its directory to resolve imports from).
  mkdirSync(dirname(CLIENT_ENTRY), { recursive: true });
  files.push({ path: CLIENT_BUNDLE, text: (await buildClient(client)).code });
  files.push({ path: FALLBACK_BUNDLE, text: (await buildClient(undefined, FALLBACK_ENTRY)).code });
  return files;
}

// `import.meta.main` is Deno's and Bun's; Node's types (used by tsc) do not declare it.
if ((import.meta as { main?: boolean }).main) {
  const checking = process.argv.includes("--check");
  const files = await generateFiles();
  const stale = files.filter((f) => !existsSync(f.path) || readFileSync(f.path, "utf8") !== f.text);
  if (checking) {
    if (stale.length > 0) {
      console.error(`Generated files are stale: ${stale.map((f) => f.path).join(", ")}; run \`deno task codegen\` or \`bun run codegen\``);
      process.exit(1);
    }
    console.log(`codegen --check: ${files.length} generated files are up to date`);
  } else {
    for (const f of stale) {
      mkdirSync(dirname(f.path), { recursive: true });
      writeFileSync(f.path, f.text);
    }
    const bundle = await buildClient();
    console.log(`codegen: wrote ${stale.length} of ${files.length} files; client bundle ${kilobytes(bundle.gzipBytes)} gzipped (budget ${kilobytes(GZIP_BUDGET)})`);
  }
}
