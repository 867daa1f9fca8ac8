/**
 * The layout's rules, read from the source's own imports: no import cycle anywhere in the package
 * (type-only imports included: state shared by several files gets its own module), and the client
 * and shared code never reach server code or a runtime's globals (they run in browsers).
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const DIRS = ["server", "client", "shared", "codegen", "app", "conformance"];
const ENTRIES = ["mod.ts", "server.ts"];
/** `import … from "./x.ts"`, `export … from "./x.ts"`, `import "./x.ts"`, `import("./x.ts")`: relative specifiers only. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g;

/** Every .ts file of the package, relative to the repository root. */
function sources(): string[] {
  const files = [...ENTRIES];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) files.push(path);
    }
  };
  for (const dir of DIRS) walk(dir);
  return files;
}

/** Each file's relative imports, as paths from the repository root. */
function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(root, file), "utf8");
    graph.set(file, [...text.matchAll(SPECIFIER)].map((m) => normalize(join(dirname(file), m[1]!))));
  }
  return graph;
}

/** The cycles of a graph: each strongly connected component of more than one file (Tarjan), or a file importing itself. */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (file: string): void => {
    index.set(file, index.size);
    low.set(file, index.get(file)!);
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) (visit(next), low.set(file, Math.min(low.get(file)!, low.get(next)!)));
      else if (stack.includes(next)) low.set(file, Math.min(low.get(file)!, index.get(next)!));
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    for (let top = stack.pop()!; ; top = stack.pop()!) {
      component.push(top);
      if (top === file) break;
    }
    if (component.length > 1 || graph.get(file)!.includes(file)) found.push(component.sort());
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return found;
}

describe("the import graph", () => {
  const files = sources();
  const graph = importGraph(files);

  it("reads every module of the package and resolves every relative import to a file", () => {
    assert.ok(files.length > 100, `only ${files.length} files found`);
    const known = new Set(files);
    const dangling = [...graph].flatMap(([file, imports]) => imports.filter((i) => !known.has(i) && DIRS.some((d) => i.startsWith(d))).map((i) => `${file} -> ${i}`));
    assert.deepEqual(dangling, []);
  });

  it("has no import cycle, type-only imports included", () => {
    assert.deepEqual(cycles(graph), []);
  });

  it("keeps client/ and shared/ browser-safe: no server import, no Deno or Bun global", () => {
    const problems: string[] = [];
    for (const [file, imports] of graph) {
      if (!file.startsWith("client") && !file.startsWith("shared")) continue;
      for (const i of imports) if (i.startsWith("server")) problems.push(`${file} imports ${i}`);
      const text = readFileSync(join(root, file), "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
      if (/\b(?:Deno|Bun)\.\w/.test(text)) problems.push(`${file} uses a runtime global`);
    }
    assert.deepEqual(problems, []);
  });

  it("finds a cycle when there is one (the check itself)", () => {
    const graph = new Map([["a.ts", ["b.ts"]], ["b.ts", ["c.ts"]], ["c.ts", ["a.ts"]], ["d.ts", ["a.ts"]]]);
    assert.deepEqual(cycles(graph), [["a.ts", "b.ts", "c.ts"]]);
  });
});
