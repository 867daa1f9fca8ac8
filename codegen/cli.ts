#!/usr/bin/env bun
/**
 * The `tether` command line. `tether codegen` reads a contract from a module and writes its typed
 * client, its AsyncAPI 3.0 document and the JSON Schema of its payloads.
 *
 * Run it with Bun (`bunx tether codegen …`, the package's `bin`) or Deno
 * (`deno run -A jsr:@tether/rpc/cli codegen …`); `tether --help` lists the options.
 *
 * @example Generate a client, then check it in CI
 * ```sh
 * bunx tether codegen --contract src/contract.ts#contract --out src/generated
 * bunx tether codegen --contract src/contract.ts#contract --out src/generated --check
 * ```
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { type ContractTree, flattenContract } from "../shared/contract.ts";
import { type GeneratedFile, generateFiles, schemaExports } from "./files.ts";

export type { GeneratedFile } from "./files.ts";

/** What `tether --help` prints. */
export const HELP = `tether: Tether's command line

Usage:
  tether codegen --contract <module>[#export] --out <dir> [options]

Writes, from the contract exported by <module> (default export name: "contract"):
  <dir>/<name>.ts        the typed client: one type per payload and create<Name>Client(); it imports
                         only the Tether client (@tether/rpc/client), no schema library
  <dir>/asyncapi.json    the AsyncAPI 3.0 document of the service
  <dir>/schemas.json     the JSON Schema (draft-07) of every payload

Options:
  --contract <module>[#export]  the module holding the contract, and its export name  (required)
  --out <dir>                   where the files go                                   (required)
  --name <Name>                 the service's name in type and function names
                                default: the module's file name (its folder's for contract.ts, mod.ts, index.ts)
  --client <specifier>          where the generated client imports Tether's client from
                                default: @tether/rpc/client
  --title <text>                the AsyncAPI document's title     default: "<Name> service"
  --version <x.y.z>             the AsyncAPI document's version   default: ./package.json's or ./deno.json's, else 0.0.0
  --description <text>          the AsyncAPI document's description
  --check                       write nothing; exit 1 when a file differs from what would be written
  --help, -h                    print this text

Run with Bun (bunx tether codegen ...) or Deno (deno run -A jsr:@tether/rpc/cli codegen ...).
`;

/** The parsed options of `tether codegen`. */
export interface CodegenOptions {
  /** Path of the contract's module. */
  module: string;
  /** The contract's export name. @default "contract" */
  exportName: string;
  /** Output directory. */
  out: string;
  /** The service's name (PascalCase). */
  name: string;
  /** Where the generated client imports Tether's client from. */
  client: string | undefined;
  /** The AsyncAPI document's title (undefined: `<Name> service`). */
  title: string | undefined;
  /** The AsyncAPI document's version (undefined: the project's). */
  version: string | undefined;
  /** The AsyncAPI document's description (undefined: a default sentence). */
  description: string | undefined;
  /** Compare instead of writing. */
  check: boolean;
  /** The command line that regenerates the files, shown in the client's header. */
  command: string;
}

/**
 * Parses `tether` arguments (without the runtime and script).
 * @returns the codegen options, `"help"` for `--help`, or an error message
 */
export function parseCodegenArgs(argv: string[]): CodegenOptions | "help" | { error: string } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        contract: { type: "string" },
        out: { type: "string" },
        name: { type: "string" },
        client: { type: "string" },
        title: { type: "string" },
        version: { type: "string" },
        description: { type: "string" },
        check: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  if (positionals[0] !== "codegen" || positionals.length > 1) {
    return { error: positionals.length === 0 ? "Missing command: use `tether codegen`" : `Unknown command "${positionals.join(" ")}"` };
  }
  if (values.contract === undefined || values.out === undefined) return { error: "Missing --contract or --out" };
  const [module = "", exportName = "contract"] = values.contract.split("#");
  const name = values.name ?? defaultName(module);
  if (!/^[A-Z][A-Za-z0-9]*$/.test(name)) return { error: `Service name "${name}" is not PascalCase: pass --name` };
  const given = ["contract", "out", "name", "client"].filter((k) => values[k as keyof typeof values] !== undefined);
  const command = ["tether codegen", ...given.map((k) => `--${k} ${values[k as keyof typeof values]}`)].join(" ");
  return {
    module,
    exportName,
    out: values.out,
    name,
    client: values.client,
    title: values.title,
    version: values.version,
    description: values.description,
    check: values.check ?? false,
    command,
  };
}

/** PascalCase of the module's file name, or of its folder's for generic file names. */
function defaultName(module: string): string {
  const file = basename(module, extname(module));
  const word = ["contract", "mod", "index", "main"].includes(file) ? basename(dirname(resolve(module))) : file;
  return word.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("");
}

/** The `version` of ./package.json or ./deno.json, if either has one. */
function projectVersion(): string | undefined {
  for (const file of ["package.json", "deno.json"]) {
    if (!existsSync(file)) continue;
    const version = (JSON.parse(readFileSync(file, "utf8")) as { version?: unknown }).version;
    if (typeof version === "string") return version;
  }
  return undefined;
}

/**
 * Loads the contract and generates its files in memory.
 * @throws {Error} when the module cannot be loaded or its export is not a contract
 */
export async function codegenFiles(options: CodegenOptions): Promise<GeneratedFile[]> {
  const module = (await import(pathToFileURL(resolve(options.module)).href)) as Record<string, unknown>;
  const contract = module[options.exportName];
  if (typeof contract !== "object" || contract === null) {
    throw new Error(`Cannot generate: ${options.module} has no export "${options.exportName}" (name it with --contract ${options.module}#<export>)`);
  }
  flattenContract(contract as ContractTree);
  const file = options.name.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
  return generateFiles({
    contract: contract as ContractTree,
    namedSchemas: schemaExports(module),
    serviceName: options.name,
    source: options.module,
    regenerate: options.command,
    ...(options.client === undefined ? {} : { clientImport: options.client }),
    paths: { client: join(options.out, `${file}.ts`), asyncapi: join(options.out, "asyncapi.json"), schemas: join(options.out, "schemas.json") },
    info: {
      title: options.title ?? `${options.name} service`,
      version: options.version ?? projectVersion() ?? "0.0.0",
      description: options.description ?? `The ${options.name} service: each procedure and topic is a channel on one Tether WebSocket.`,
    },
  });
}

/** Files whose contents on disk differ from `files` (or that are missing). */
export function staleFiles(files: GeneratedFile[]): GeneratedFile[] {
  return files.filter((f) => !existsSync(f.path) || readFileSync(f.path, "utf8") !== f.text);
}

/** Writes the files that changed, creating their folders. */
export function writeFiles(files: GeneratedFile[]): void {
  for (const f of files) {
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, f.text);
  }
}

/** Runs the command line; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const options = parseCodegenArgs(argv);
  if (options === "help") {
    console.log(HELP);
    return 0;
  }
  if ("error" in options) {
    console.error(`${options.error}\n\n${HELP}`);
    return 2;
  }
  let files: GeneratedFile[];
  try {
    files = await codegenFiles(options);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  }
  const stale = staleFiles(files);
  if (options.check) {
    if (stale.length === 0) {
      console.log(`tether codegen --check: ${files.length} files are up to date`);
      return 0;
    }
    console.error(`Generated files are stale: ${stale.map((f) => f.path).join(", ")}; run \`${options.command}\``);
    return 1;
  }
  writeFiles(stale);
  console.log(`tether codegen: wrote ${stale.length} of ${files.length} files in ${options.out}`);
  return 0;
}

// `import.meta.main` is Deno's and Bun's; Node's types (used by tsc) do not declare it.
if ((import.meta as { main?: boolean }).main) process.exit(await main(process.argv.slice(2)));
