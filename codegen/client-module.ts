/**
 * Contract -> the source of a self-contained typed client module (e.g. `chat.ts`): one named type
 * per procedure input/output and topic params/message/presence, a types-only contract, and
 * `createChatClient()` wrapping the client runtime. It imports the Tether client and nothing else.
 * @module
 */
import { type AnyProcedure, type AnyTopic, CLIENT_SECTION, clientProcedures, type ContractTree, flattenContract, isProcedure } from "../shared/contract.ts";
import { describe, docComment, type SchemaNames, type SchemaNode, typeText, type TypeMode } from "./typescript.ts";

/** What to generate and from where. */
export interface ClientModuleSpec {
  /** The contract to describe. */
  contract: ContractTree;
  /** Schemas exported by the contract's module, by export name; they become named types. */
  namedSchemas: Record<string, unknown>;
  /** Where the contract lives, shown in the header. */
  source: string;
  /** The service's name in type and function names, e.g. `Chat` gives `ChatContract`, `createChatClient`. */
  serviceName: string;
  /** The module the client runtime is imported from. @default "@tether/rpc/client" */
  clientImport?: string;
  /** The command that regenerates the file, shown in its header. */
  regenerate: string;
}

/** A PascalCase type name from a dotted path and a suffix: `chat.send` + `Input` gives `ChatSendInput`. */
export function typeName(path: string, suffix: string): string {
  return path.split(".").map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join("") + suffix;
}

/** The type name of a declared error's data: `shop.buy` + `OUT_OF_STOCK` gives `ShopBuyErrorOutOfStock`. */
export function errorTypeName(path: string, code: string): string {
  return typeName(path, `Error${typeName(code.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), "")}`);
}

/** Generates the module's source text (deterministic: the same contract gives the same bytes). */
export function generateClientModule(spec: ClientModuleSpec): string {
  const { serviceName: svc } = spec;
  const names: SchemaNames = new Map();
  const out: string[] = [];
  const define = (name: string, schema: SchemaNode, mode: TypeMode, doc: string | undefined) => {
    const body = names.get(schema) ?? typeText(schema, mode, names);
    const comment = docComment(doc ?? describe(schema));
    const isObject = body.startsWith("{\n") && body.endsWith("}");
    out.push(isObject ? `${comment}export interface ${name} ${body}\n` : `${comment}export type ${name} = ${body};\n`);
    return name;
  };
  // Exported schemas of the contract module become shared named types (e.g. `Message`).
  for (const [name, schema] of Object.entries(spec.namedSchemas).sort(([a], [b]) => a.localeCompare(b))) {
    // A schema whose input and output types differ cannot be one name; it is expanded where used.
    if (typeText(schema as SchemaNode, "input") !== typeText(schema as SchemaNode, "output")) continue;
    define(name, schema as SchemaNode, "output", undefined);
    names.set(schema, name);
  }
  const slots = new Map<string, string>();
  for (const [path, entry] of flattenContract(spec.contract)) {
    if (isProcedure(entry)) procedureTypes(path, entry, define, slots);
    else topicTypes(path, entry, define, slots);
  }
  // The procedures the client implements, typed like the others (`ClientConfirmInput`…), so `implement` is checked.
  for (const [path, entry] of clientProcedures(spec.contract)) procedureTypes(`${CLIENT_SECTION}.${path}`, entry, define, slots);
  return [
    header(spec),
    out.join("\n"),
    `\n/** The ${svc.toLowerCase()} service's contract as types only (no schemas): what \`createClient\` needs. */\n`,
    `export type ${svc}Contract = ${contractType(spec.contract, "", slots, "")};\n\n`,
    `/** A connected client of the ${svc.toLowerCase()} service. */\n`,
    `export type ${svc}Client = Client<${svc}Contract>;\n\n`,
    `/**\n * Connects to the ${svc.toLowerCase()} service.\n * @param url the service's WebSocket URL, e.g. \`ws://localhost:8080/ws\`\n`,
    ` * @param options the client's options (reconnect, timeouts, query params, the \`implement\`ations the server calls); see \`ClientOptions\`\n`,
    ` * @example\n * const client = create${svc}Client("ws://localhost:8080/ws");\n */\n`,
    `export function create${svc}Client(url: string, options: ClientOptions<${svc}Contract> = {}): ${svc}Client {\n`,
    `  return createClient<${svc}Contract>(url, options);\n}\n`,
  ].join("");
}

type Define = (name: string, schema: SchemaNode, mode: TypeMode, doc: string | undefined) => string;

function procedureTypes(path: string, p: AnyProcedure, define: Define, slots: Map<string, string>): void {
  const what = p.description === undefined ? "" : `: ${lowerFirst(p.description)}`;
  const input = p.input === undefined ? "undefined" : define(typeName(path, "Input"), p.input, "input", `What \`${path}\` takes${what}`);
  const output = p.output === undefined ? "void" : define(typeName(path, "Output"), p.output, "output", `What \`${path}\` returns${what}`);
  // Declared errors keep their codes and data types, so `.safe` narrows them as with the contract itself.
  const errors = Object.entries<SchemaNode>(p.errors ?? {}).map(([code, schema]) => {
    const data = define(errorTypeName(path, code), schema, "output", `Data of \`${path}\`'s \`${code}\` error`);
    return `readonly ${code}: Schema<${data}>`;
  });
  const declared = errors.length === 0 ? "" : `, { ${errors.join("; ")} }`;
  slots.set(path, `Procedure<Schema<${input}>, Schema<${output}>${declared}>`);
}

function topicTypes(path: string, t: AnyTopic, define: Define, slots: Map<string, string>): void {
  const params = t.params === undefined ? "undefined" : define(typeName(path, "Params"), t.params, "input", `Which instance of \`${path}\` to subscribe to`);
  const message = define(typeName(path, "Message"), t.message, "output", `One message of \`${path}\` as received`);
  let messageIn = message;
  if (t.clientPublish && typeText(t.message, "input") !== typeText(t.message, "output")) {
    messageIn = define(typeName(path, "MessageInput"), t.message, "input", `One message of \`${path}\` as published`);
  }
  const presence = t.presence === undefined ? "never" : define(typeName(path, "Presence"), t.presence, "output", `Presence metadata of one connection in \`${path}\``);
  slots.set(path, `Topic<Schema<${params}>, Schema<${messageIn}, ${message}>, Schema<${presence}>>`);
}

function contractType(tree: ContractTree, prefix: string, slots: Map<string, string>, indent: string): string {
  const inner = `${indent}  `;
  const lines = Object.entries(tree).map(([name, entry]) => {
    const path = prefix + name;
    const slot = slots.get(path);
    const doc = slot === undefined ? "" : docComment((entry as AnyProcedure | AnyTopic).description, inner);
    return `${doc}${inner}${name}: ${slot ?? contractType(entry as ContractTree, `${path}.`, slots, inner)};`;
  });
  return `{\n${lines.join("\n")}\n${indent}}`;
}

function header(spec: ClientModuleSpec): string {
  const from = JSON.stringify(spec.clientImport ?? "@tether/rpc/client");
  return `// Generated from ${spec.source} by \`tether codegen\`. Do not edit: run \`${spec.regenerate}\`.
/**
 * The typed client of the ${spec.serviceName.toLowerCase()} service: every procedure's input and output and every
 * topic's params, message and presence as TypeScript types, and \`create${spec.serviceName}Client()\`.
 * Self-contained: it imports the Tether client and nothing else (no server code, no schema library).
 * @module
 */
import { type Client, type ClientOptions, createClient, type Procedure, type Topic, type TypedSchema as Schema } from ${from};

export { type CallOptions, type ClientOptions, type ConnectionState, type PresenceView, RpcError, type SubscriptionHandle } from ${from};

`;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
