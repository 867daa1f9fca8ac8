/**
 * `deno task codegen` / `bun run codegen`: the repository's own codegen, through the same generator
 * as `tether codegen` (codegen/files.ts). From the chat contract (app/contract.ts) it writes
 * - client/generated/chat.ts     the self-contained typed client (`createChatClient`)
 * - client/generated/schemas.json the JSON Schema of every payload
 * - asyncapi.json                 the AsyncAPI 3.0 document (served at /asyncapi.json)
 * - public/tether-chat.js         the browser bundle the demo page loads
 * - public/tether-http.js         the HTTP fallback's bundle (opt-in, loaded beside it)
 * With `--check` it writes nothing and exits 1 when any checked-in file differs from what it would write.
 * @module
 */
import { mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import process from "node:process";
import * as contractModule from "../app/contract.ts";
import { staleFiles, writeFiles } from "../codegen/cli.ts";
import { type GeneratedFile, generateFiles as generateContractFiles, schemaExports } from "../codegen/files.ts";
import { buildClient, CLIENT_BUNDLE, CLIENT_ENTRY, FALLBACK_BUNDLE, FALLBACK_ENTRY, GZIP_BUDGET, kilobytes } from "./build-client.ts";

export type { GeneratedFile } from "../codegen/files.ts";

/** The service's description in the AsyncAPI document. */
const DESCRIPTION = [
  "The Tether demo chat service: rooms with history, presence and a typing indicator.",
  "Every client opens one WebSocket at `/ws` offering the subprotocol `tether.v1`; the server speaks first (`hello`).",
  "Each procedure and topic below is a channel on that socket; its messages are the frames of PROTOCOL.md, with",
  "the contract's payload as a superjson value `{ json, meta }` (`json` follows the schemas in components).",
].join(" ");

/** Every file codegen writes, generated in memory. */
export async function generateFiles(): Promise<GeneratedFile[]> {
  const version = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
  const files = generateContractFiles({
    contract: contractModule.contract,
    namedSchemas: schemaExports(contractModule),
    serviceName: "Chat",
    source: "app/contract.ts",
    regenerate: "deno task codegen` or `bun run codegen",
    clientImport: "../mod.ts",
    paths: { client: CLIENT_ENTRY, schemas: "client/generated/schemas.json", asyncapi: "asyncapi.json" },
    info: { title: "Tether chat", version, description: DESCRIPTION },
    serverDescription: "One WebSocket per client, subprotocol `tether.v1`; the display name comes from the `name` query parameter",
  });
  // The bundle is built from the client module just generated, which may not be on disk yet
  // (esbuild still needs its directory to resolve imports from).
  mkdirSync(dirname(CLIENT_ENTRY), { recursive: true });
  files.push({ path: CLIENT_BUNDLE, text: (await buildClient(files[0]!.text)).code });
  files.push({ path: FALLBACK_BUNDLE, text: (await buildClient(undefined, FALLBACK_ENTRY)).code });
  return files;
}

// `import.meta.main` is Deno's and Bun's; Node's types (used by tsc) do not declare it.
if ((import.meta as { main?: boolean }).main) {
  const checking = process.argv.includes("--check");
  const files = await generateFiles();
  const stale = staleFiles(files);
  if (checking) {
    if (stale.length > 0) {
      console.error(`Generated files are stale: ${stale.map((f) => f.path).join(", ")}; run \`deno task codegen\` or \`bun run codegen\``);
      process.exit(1);
    }
    console.log(`codegen --check: ${files.length} generated files are up to date`);
  } else {
    writeFiles(stale);
    const bundle = await buildClient();
    console.log(`codegen: wrote ${stale.length} of ${files.length} files; client bundle ${kilobytes(bundle.gzipBytes)} gzipped (budget ${kilobytes(GZIP_BUDGET)})`);
  }
}
