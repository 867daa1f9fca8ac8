/**
 * Bundles the generated chat client for browsers with esbuild (ESM, minified) and reports its size.
 * `bun scripts/build-client.ts` prints the report; `buildClient()` is what codegen (which writes
 * the bundle to public/) and bench (which reports its size) call.
 * @module
 */
import * as esbuild from "esbuild";
import { basename, dirname, resolve } from "node:path";
import { gzipSync } from "node:zlib";

/** The module bundled for browsers: the generated client (the runtime, the payload codec and all). */
export const CLIENT_ENTRY = "client/generated/chat.ts";

/** Where the demo page loads the bundle from. */
export const CLIENT_BUNDLE = "public/tether-chat.js";

/** The HTTP fallback, an opt-in second bundle (the page imports it beside the client). */
export const FALLBACK_ENTRY = "client/http.ts";

/** Where the demo page loads the fallback bundle from. */
export const FALLBACK_BUNDLE = "public/tether-http.js";

/** Size budget of the whole client, gzipped (socket.io-client is 13.5 KB, tRPC's client + superjson 13.4 KB). */
export const GZIP_BUDGET = 8 * 1024;

/** Names that exist on Deno, Bun or Node but not in a browser; none may appear in the bundle. */
const RUNTIME_GLOBALS = /\b(Deno|Bun|process|Buffer|require|__dirname|__filename|setImmediate)\b/g;

/** A built bundle and what it weighs. */
export interface ClientBundle {
  /** The bundle's text. */
  code: string;
  /** Minified size in bytes. */
  minBytes: number;
  /** Gzipped size in bytes (level 9). */
  gzipBytes: number;
  /** Runtime-only globals the bundle mentions (must be empty). */
  runtimeGlobals: string[];
  /** Bytes each input contributes to the minified bundle, largest first. */
  inputs: { path: string; bytes: number }[];
}

/**
 * Bundles the generated client for browsers (platform browser, format esm, minified) without writing it.
 * @param source the client module's text, when it is not (yet) the file on disk (codegen --check)
 * @param path the entry module @default CLIENT_ENTRY (FALLBACK_ENTRY builds the HTTP fallback)
 */
export async function buildClient(source?: string, path: string = CLIENT_ENTRY): Promise<ClientBundle> {
  const entry = source === undefined
    ? { entryPoints: [path] }
    : { stdin: { contents: source, resolveDir: resolve(dirname(path)), sourcefile: basename(path), loader: "ts" as const } };
  const result = await esbuild.build({
    ...entry,
    bundle: true,
    format: "esm",
    platform: "browser",
    minify: true,
    legalComments: "none",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const file = result.outputFiles[0];
  if (file === undefined) throw new Error(`Cannot bundle "${path}": esbuild produced no output`);
  const code = file.text;
  const output = Object.values(result.metafile.outputs)[0];
  const inputs = Object.entries(output?.inputs ?? {})
    .map(([path, info]) => ({ path, bytes: info.bytesInOutput }))
    .sort((a, b) => b.bytes - a.bytes);
  return {
    code,
    minBytes: file.contents.byteLength,
    gzipBytes: gzipSync(file.contents, { level: 9 }).byteLength,
    runtimeGlobals: [...new Set(code.match(RUNTIME_GLOBALS) ?? [])],
    inputs,
  };
}

/** `12345` -> `"12.1 KB"`. */
export function kilobytes(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

/** A short markdown report of a bundle's size, with what dominates it. */
export function sizeReport(bundle: ClientBundle, top = 8): string {
  const lines = [
    `| client bundle | minified | gzipped |`,
    `|---|---:|---:|`,
    `| ${CLIENT_ENTRY} (esbuild, esm, browser) | ${kilobytes(bundle.minBytes)} | ${kilobytes(bundle.gzipBytes)} |`,
    ``,
    `Largest inputs (minified bytes): ${bundle.inputs.slice(0, top).map((i) => `${i.path} ${i.bytes}`).join(", ")}`,
  ];
  return lines.join("\n");
}

// `import.meta.main` is Deno's and Bun's; Node's types (used by tsc) do not declare it.
if ((import.meta as { main?: boolean }).main) {
  const bundle = await buildClient();
  console.log(sizeReport(bundle));
  if (bundle.runtimeGlobals.length > 0) {
    console.error(`Cannot ship the client bundle: it mentions runtime globals ${bundle.runtimeGlobals.join(", ")}`);
    process.exit(1);
  }
  if (bundle.gzipBytes > GZIP_BUDGET) console.log(`Over budget: ${kilobytes(bundle.gzipBytes)} gzipped > ${kilobytes(GZIP_BUDGET)}`);
}
