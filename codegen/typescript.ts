/**
 * Valibot schema -> TypeScript type text, for the generated client. Reads schema kinds directly
 * (not JSON Schema) so that `Date` stays `Date` and input and output types can differ.
 * @module
 */

/** Which side of a schema to describe: what a sender passes, or what a receiver gets after parsing. */
export type TypeMode = "input" | "output";

/** The parts of a valibot schema or action the generator reads. */
export interface SchemaNode {
  kind?: string;
  type: string;
  entries?: Record<string, SchemaNode>;
  item?: SchemaNode;
  items?: SchemaNode[];
  options?: SchemaNode[] | unknown[];
  wrapped?: SchemaNode;
  default?: unknown;
  literal?: unknown;
  key?: SchemaNode;
  value?: SchemaNode;
  rest?: SchemaNode;
  enum?: Record<string, unknown>;
  pipe?: SchemaNode[];
  description?: string;
  title?: string;
}

/** Names given to schema objects (by identity) so they print as a reference instead of inline. */
export type SchemaNames = Map<unknown, string>;

/** A schema's description (its `v.description()` action), if it has one. */
export function describe(schema: SchemaNode): string | undefined {
  for (const action of schema.pipe ?? []) {
    if (action.type === "description" && typeof action.description === "string") return action.description;
  }
  return undefined;
}

/** A doc comment for `text`, indented; empty when there is no text. */
export function docComment(text: string | undefined, indent = ""): string {
  if (text === undefined || text === "") return "";
  const lines = text.split("\n");
  if (lines.length === 1) return `${indent}/** ${text.replaceAll("*/", "*\\/")} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l.replaceAll("*/", "*\\/")}`).join("\n")}\n${indent} */\n`;
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const TYPE_CHANGING = new Set(["transform", "to_number", "to_string", "to_date", "to_boolean", "to_bigint", "raw_transform", "parse_json", "stringify_json"]);

/**
 * The TypeScript type of a schema in one mode.
 * @param names schemas printed by name (the root itself is always expanded)
 */
export function typeText(schema: SchemaNode, mode: TypeMode, names: SchemaNames = new Map(), indent = "", root = true): string {
  const named = names.get(schema);
  if (named !== undefined && !root) return named;
  const next = (s: SchemaNode) => typeText(s, mode, names, indent, false);
  schema = pipeEnd(schema, mode);
  switch (schema.type) {
    case "string":
    case "number":
    case "bigint":
    case "boolean":
    case "symbol":
    case "null":
    case "undefined":
    case "void":
    case "unknown":
    case "any":
    case "never":
      return schema.type;
    case "date":
      return "Date";
    case "blob":
      return "Blob";
    case "literal":
      return JSON.stringify(schema.literal);
    case "picklist":
      return (schema.options as unknown[]).map((o) => JSON.stringify(o)).join(" | ") || "never";
    case "enum":
      return Object.values(schema.enum ?? {}).map((o) => JSON.stringify(o)).join(" | ") || "never";
    case "array":
      return `${wrap(next(schema.item!))}[]`;
    case "tuple":
    case "loose_tuple":
    case "strict_tuple":
      return `[${(schema.items ?? []).map(next).join(", ")}]`;
    case "record":
      return `Record<${next(schema.key!)}, ${next(schema.value!)}>`;
    case "union":
    case "variant":
      return (schema.options as SchemaNode[]).map((o) => wrapFn(next(o))).join(" | ");
    case "intersect":
      return (schema.options as SchemaNode[]).map((o) => wrap(next(o))).join(" & ");
    case "nullable":
      return `${wrapFn(next(schema.wrapped!))} | null`;
    case "optional":
    case "exact_optional":
    case "undefinedable":
      return mode === "output" && schema.default !== undefined ? next(schema.wrapped!) : `${wrapFn(next(schema.wrapped!))} | undefined`;
    case "nullish":
      return mode === "output" && schema.default !== undefined ? next(schema.wrapped!) : `${wrapFn(next(schema.wrapped!))} | null | undefined`;
    case "non_optional":
    case "non_nullable":
    case "non_nullish":
      return next(schema.wrapped!);
    case "object":
    case "loose_object":
    case "strict_object":
    case "object_with_rest":
      return objectText(schema, mode, names, indent);
    default:
      return "unknown";
  }
}

function objectText(schema: SchemaNode, mode: TypeMode, names: SchemaNames, indent: string): string {
  const inner = `${indent}  `;
  const lines = Object.entries(schema.entries ?? {}).map(([key, raw]) => {
    const entry = pipeEnd(raw, mode);
    const optional = isOptionalKey(entry, mode);
    const name = IDENT.test(key) ? key : JSON.stringify(key);
    const type = typeText(raw, mode, names, inner, false);
    return `${docComment(describe(raw) ?? describe(entry), inner)}${inner}${name}${optional ? "?" : ""}: ${type};`;
  });
  if (schema.type === "loose_object") lines.push(`${inner}[key: string]: unknown;`);
  if (schema.rest !== undefined) lines.push(`${inner}[key: string]: ${typeText(schema.rest, mode, names, inner, false)};`);
  return lines.length === 0 ? "Record<string, never>" : `{\n${lines.join("\n")}\n${indent}}`;
}

/** The schema that decides a piped value's type in this mode: the first for input, the last for output. */
function pipeEnd(schema: SchemaNode, mode: TypeMode): SchemaNode {
  if (schema.pipe === undefined) return schema;
  const [first] = schema.pipe;
  if (mode === "input" || first === undefined) return withoutPipe(schema);
  // A transformation that changes the type makes the output unknowable unless a schema follows it.
  const last = [...schema.pipe].reverse().find((s) => s.kind === "schema" || TYPE_CHANGING.has(s.type));
  if (last === undefined || last === first) return withoutPipe(schema);
  return last.kind === "schema" ? last : { type: "unknown" };
}

function withoutPipe(schema: SchemaNode): SchemaNode {
  const { pipe: _, ...rest } = schema;
  return rest;
}

function isOptionalKey(schema: SchemaNode, mode: TypeMode): boolean {
  const optional = ["optional", "exact_optional", "nullish"].includes(schema.type);
  return optional && !(mode === "output" && schema.default !== undefined);
}

/** Parenthesizes a union or intersection where a postfix (`[]`) or `&` would bind wrongly. */
function wrap(type: string): string {
  return / [|&] /.test(type) && !type.startsWith("{") ? `(${type})` : type;
}

function wrapFn(type: string): string {
  return type.startsWith("(") && type.includes("=>") ? `(${type})` : type;
}
