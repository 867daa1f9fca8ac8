/**
 * One contract -> the files `tether codegen` writes: the typed client module, the AsyncAPI 3.0
 * document and the JSON Schema of every payload. Pure: it returns texts, the caller writes them.
 * @module
 */
import type { ContractTree } from "../shared/contract.ts";
import { generateAsyncApi, payloadSchemas } from "./asyncapi.ts";
import { generateClientModule } from "./client-module.ts";

/** One generated file: where it goes and its exact text. */
export interface GeneratedFile {
  /** Path of the file, relative to the working directory. */
  path: string;
  /** The file's exact contents. */
  text: string;
}

/** What to generate from and where to. */
export interface CodegenSpec {
  /** The contract to describe. */
  contract: ContractTree;
  /** Exported valibot schemas of the contract's module by export name: they become named types. */
  namedSchemas: Record<string, unknown>;
  /** The service's name in type and function names (`Chat`: `ChatContract`, `createChatClient`). */
  serviceName: string;
  /** Where the contract lives, named in the client's header. */
  source: string;
  /** The command that regenerates the files, named in the client's header. */
  regenerate: string;
  /** The module the client imports the Tether client from. @default "@tether/rpc/client" */
  clientImport?: string;
  /** Where each file goes. */
  paths: { client: string; asyncapi: string; schemas: string };
  /** The AsyncAPI document's `info`. */
  info: { title: string; version: string; description: string };
  /** The AsyncAPI default server's description. @default how a client connects */
  serverDescription?: string;
}

/** The exports of a module that are valibot schemas: they become the generated client's named types. */
export function schemaExports(module: Record<string, unknown>): Record<string, unknown> {
  const named: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(module)) {
    if (typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "schema") named[name] = value;
  }
  return named;
}

/** The JSON Schema document of every payload of a contract (draft-07; Dates are ISO strings). */
export function schemasDocument(contract: ContractTree, title: string): Record<string, unknown> {
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: `${title} payloads`,
    description: "The JSON form of every procedure input/output and topic params/message/presence (Dates are ISO strings)",
    definitions: payloadSchemas(contract),
  };
}

/** Generates the client module, the AsyncAPI document and the payload schemas (deterministic). */
export function generateFiles(spec: CodegenSpec): GeneratedFile[] {
  const client = generateClientModule({
    contract: spec.contract,
    namedSchemas: spec.namedSchemas,
    source: spec.source,
    serviceName: spec.serviceName,
    regenerate: spec.regenerate,
    ...(spec.clientImport === undefined ? {} : { clientImport: spec.clientImport }),
  });
  const asyncapi = generateAsyncApi({
    contract: spec.contract,
    ...spec.info,
    ...(spec.serverDescription === undefined ? {} : { serverDescription: spec.serverDescription }),
  });
  return [
    { path: spec.paths.client, text: client },
    { path: spec.paths.schemas, text: `${JSON.stringify(schemasDocument(spec.contract, spec.info.title), null, 2)}\n` },
    { path: spec.paths.asyncapi, text: `${JSON.stringify(asyncapi, null, 2)}\n` },
  ];
}
