/**
 * Contract -> an AsyncAPI 3.0 document and the JSON Schema of every payload.
 * Each procedure and topic is a channel on the one WebSocket (`/ws`, subprotocol `tether.v1`);
 * messages are the wire frames of PROTOCOL.md with the contract's payload under `json`.
 * @module
 */
import { toJsonSchema } from "@valibot/to-json-schema";
import type { GenericSchema } from "valibot";
import { type AnyProcedure, type AnyTopic, CLIENT_SECTION, clientProcedures, type ContractTree, flattenContract, isProcedure } from "../shared/contract.ts";
import { SUBPROTOCOL } from "../shared/version.ts";
import { errorTypeName, typeName } from "./client-module.ts";

/** A JSON value as written to the document. */
type Json = Record<string, unknown>;

/** What describes the service besides its contract. */
export interface AsyncApiSpec {
  contract: ContractTree;
  title: string;
  version: string;
  description: string;
  /** `host:port` of the default server. @default "localhost:8080" */
  host?: string;
  /** The socket path clients connect to. @default "/ws" */
  path?: string;
  /** The default server's description. @default how a client connects (one socket, subprotocol `tether.v1`) */
  serverDescription?: string;
}

/**
 * The JSON Schema (draft-07) of a valibot schema on the wire: `Date` becomes an ISO date-time
 * string (superjson carries it as one, marking it in `meta`).
 */
export function wireSchema(schema: GenericSchema, mode: "input" | "output"): Json {
  const json = toJsonSchema(schema, {
    typeMode: mode,
    errorMode: "ignore",
    overrideSchema: (c) => (c.valibotSchema.type === "date" ? { type: "string", format: "date-time" } : undefined),
  }) as Json;
  delete json.$schema;
  return json;
}

/**
 * Every payload's JSON Schema by type name (the names of the generated client's types): procedure
 * inputs, outputs and declared errors' data (the `client` section's under `client.`), topic params,
 * messages and presence.
 */
export function payloadSchemas(contract: ContractTree): Record<string, Json> {
  const schemas: Record<string, Json> = {};
  const procedures = [...flattenContract(contract), ...[...clientProcedures(contract)].map(([path, p]) => [`${CLIENT_SECTION}.${path}`, p] as const)];
  for (const [path, entry] of procedures) {
    if (isProcedure(entry)) {
      if (entry.input !== undefined) schemas[typeName(path, "Input")] = wireSchema(entry.input, "input");
      if (entry.output !== undefined) schemas[typeName(path, "Output")] = wireSchema(entry.output, "output");
      for (const [code, schema] of Object.entries(entry.errors ?? {})) schemas[errorTypeName(path, code)] = wireSchema(schema as GenericSchema, "output");
      continue;
    }
    if (entry.params !== undefined) schemas[typeName(path, "Params")] = wireSchema(entry.params, "input");
    schemas[typeName(path, "Message")] = wireSchema(entry.message, "output");
    if (entry.presence !== undefined) schemas[typeName(path, "Presence")] = wireSchema(entry.presence, "output");
  }
  return schemas;
}

const ref = (path: string) => ({ $ref: path });
const schemaRef = (name: string | undefined): Json => (name === undefined ? {} : ref(`#/components/schemas/${name}`));

/** A superjson payload: the JSON form of the value, plus `meta` naming values JSON lacks (Dates). */
const payload = (json: Json): Json => ({
  type: "object",
  properties: { json, meta: { type: "object", description: "superjson type annotations (present when the value holds a Date, Map, Set or BigInt)" } },
  required: ["json"],
});

/** A frame: `type` fixed, then its fields; `required` lists the fields always present. */
const frame = (type: string, properties: Json, required: string[]): Json => ({
  type: "object",
  properties: { type: { const: type }, ...properties },
  required: ["type", ...required],
});

const ID = ref("#/components/schemas/RequestId");
const SERVER_ID = ref("#/components/schemas/ServerRequestId");

/**
 * A procedure's channel: its call and result, and its declared errors (one `error` message, one
 * variant per code with the schema of its data). A procedure of the `client` section (`method` is
 * its path inside the section) is called by the server: the client receives the call and replies.
 */
function procedureChannel(path: string, p: AnyProcedure, method = path): { channel: Json; operations: Record<string, Json> } {
  const byServer = method !== path;
  const id = byServer ? SERVER_ID : ID;
  const input = p.input === undefined ? undefined : typeName(path, "Input");
  const output = p.output === undefined ? undefined : typeName(path, "Output");
  const messages: Json = {
    call: { name: "call", title: `Call ${path}`, payload: frame("call", { id, method: { const: method }, input: payload(schemaRef(input)) }, ["id", "method"]) },
    result: { name: "result", title: `Result of ${path}`, payload: frame("result", { id, output: payload(schemaRef(output)) }, ["id", "output"]) },
  };
  const replies = [ref(`#/channels/${path}/messages/result`)];
  const declared = Object.keys(p.errors ?? {});
  if (declared.length > 0) {
    const variants = declared.map((code) => frame("error", { id, code: { const: code }, message: { type: "string" }, data: payload(schemaRef(errorTypeName(path, code))) }, ["id", "code", "message", "data"]));
    messages.error = {
      name: "error",
      title: `Declared errors of ${path}`,
      summary: `Besides the protocol's codes (PROTOCOL.md section 7), ${path} fails with ${declared.join(", ")}, each with its data`,
      payload: { oneOf: variants },
    };
    replies.push(ref(`#/channels/${path}/messages/error`));
  }
  const channel = { address: path, title: path, ...(p.description ? { description: p.description } : {}), messages };
  const operation = {
    action: byServer ? "receive" : "send",
    channel: ref(`#/channels/${path}`),
    summary: p.description ?? (byServer ? `The server calls ${method} on the client` : `Calls ${path}`),
    messages: [ref(`#/channels/${path}/messages/call`)],
    reply: { channel: ref(`#/channels/${path}`), messages: replies },
  };
  return { channel, operations: { [path]: operation } };
}

function topicChannel(path: string, t: AnyTopic): { channel: Json; operations: Record<string, Json> } {
  const params = t.params === undefined ? undefined : typeName(path, "Params");
  const message = typeName(path, "Message");
  const channelRef = ref(`#/channels/${path}`);
  const msg = (name: string) => ref(`#/channels/${path}/messages/${name}`);
  const messages: Json = {
    subscribe: {
      name: "subscribe",
      title: `Subscribe to ${path}`,
      payload: frame("subscribe", { id: ID, topic: { const: path }, params: payload(schemaRef(params)), since: ref("#/components/schemas/Position") }, ["id", "topic"]),
    },
    subscribed: {
      name: "subscribed",
      title: `Subscribed to ${path}`,
      payload: frame("subscribed", { id: ID, topic: { const: path }, key: { type: "string" }, epoch: { type: "string" }, offset: { type: "integer" }, recovered: { type: "boolean" } }, ["id", "topic", "key", "epoch", "offset"]),
    },
    event: {
      name: "event",
      title: `Message of ${path}`,
      payload: frame("event", { topic: { const: path }, key: { type: "string" }, offset: { type: "integer" }, data: payload(schemaRef(message)) }, ["topic", "key", "data"]),
    },
  };
  const receive = [msg("event")];
  if (t.presence !== undefined) {
    const members = { type: "object", additionalProperties: { type: "object", additionalProperties: payload(schemaRef(typeName(path, "Presence"))) } };
    messages.presence = {
      name: "presence",
      title: `Presence in ${path}`,
      payload: frame("presence", { topic: { const: path }, key: { type: "string" }, count: { type: "integer" }, state: members, joins: members, leaves: members }, ["topic", "key", "count"]),
    };
    receive.push(msg("presence"));
  }
  const operations: Record<string, Json> = {
    [`${path}.subscribe`]: { action: "send", channel: channelRef, summary: `Subscribes to ${path}`, messages: [msg("subscribe")], reply: { channel: channelRef, messages: [msg("subscribed")] } },
    [`${path}.receive`]: { action: "receive", channel: channelRef, summary: t.description ?? `Messages of ${path}`, messages: receive },
  };
  if (t.clientPublish) {
    messages.publish = {
      name: "publish",
      title: `Publish to ${path}`,
      payload: frame("publish", { id: ID, topic: { const: path }, params: payload(schemaRef(params)), data: payload(schemaRef(message)) }, ["id", "topic"]),
    };
    operations[`${path}.publish`] = { action: "send", channel: channelRef, summary: `Publishes to ${path}`, messages: [msg("publish")] };
  }
  const channel = { address: path, title: path, ...(t.description ? { description: t.description } : {}), messages };
  return { channel, operations };
}

/** Builds the AsyncAPI 3.0 document (deterministic: the same contract gives the same document). */
export function generateAsyncApi(spec: AsyncApiSpec): Json {
  const channels: Json = {};
  const operations: Json = {};
  for (const [path, entry] of flattenContract(spec.contract)) {
    const part = isProcedure(entry) ? procedureChannel(path, entry) : topicChannel(path, entry);
    channels[path] = part.channel;
    Object.assign(operations, part.operations);
  }
  for (const [method, entry] of clientProcedures(spec.contract)) {
    const path = `${CLIENT_SECTION}.${method}`;
    const part = procedureChannel(path, entry, method);
    channels[path] = part.channel;
    Object.assign(operations, part.operations);
  }
  return {
    asyncapi: "3.0.0",
    info: { title: spec.title, version: spec.version, description: spec.description },
    defaultContentType: "application/json",
    servers: {
      local: {
        host: spec.host ?? "localhost:8080",
        protocol: "ws",
        pathname: spec.path ?? "/ws",
        description: spec.serverDescription ?? `One WebSocket per client, subprotocol \`${SUBPROTOCOL}\``,
      },
    },
    channels,
    operations,
    components: {
      schemas: {
        RequestId: { oneOf: [{ type: "integer", minimum: 0 }, { type: "string", maxLength: 64 }], description: "Chosen by the client; echoed in the answer" },
        Position: {
          type: "object",
          description: "Where a resubscribing client stopped: replay what came after, if the server still can",
          properties: { epoch: { type: "string" }, offset: { type: "integer", minimum: 0 } },
          required: ["epoch", "offset"],
        },
        ...(clientProcedures(spec.contract).size === 0 ? {} : {
          ServerRequestId: { type: "integer", minimum: 1, description: "Chosen by the server for a call it makes to the client (its own id space); echoed in the client's answer" },
        }),
        ...payloadSchemas(spec.contract),
      },
    },
  };
}
