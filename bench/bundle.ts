/**
 * Client bundle sizes: our browser client, socket.io-client and tRPC's WebSocket client (with
 * superjson, as a tRPC app that sends Dates would ship it), each bundled by esbuild for the browser,
 * minified, then gzipped (level 9). Also names the inputs that make up most of our bundle.
 * @module
 */
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { BENCH_DIR } from "./process.ts";

/** One client's size. */
export interface BundleSize {
  id: string;
  label: string;
  kind: "tether" | "peer";
  minified: number;
  gzipped: number;
  /** The biggest inputs in the minified output, with their share. */
  top: { path: string; bytes: number }[];
}

const CLIENTS = [
  { id: "tether-client", label: "Tether client (client/mod.ts)", kind: "tether", code: `export * from "../client/mod.ts";` },
  { id: "socketio-client", label: "socket.io-client 4.8", kind: "peer", code: `export { io } from "socket.io-client";` },
  {
    id: "trpc-client",
    label: "@trpc/client 11 (wsLink) + superjson",
    kind: "peer",
    code: `export { createTRPCClient, createWSClient, wsLink } from "@trpc/client"; export { default as superjson } from "superjson";`,
  },
] as const;

/** Bundles and measures every client. */
export async function measureBundles(): Promise<BundleSize[]> {
  const esbuild = await import("esbuild");
  const sizes: BundleSize[] = [];
  for (const client of CLIENTS) {
    const result = await esbuild.build({
      stdin: { contents: client.code, resolveDir: BENCH_DIR, sourcefile: `${client.id}.ts`, loader: "ts" },
      bundle: true,
      minify: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      write: false,
      metafile: true,
      logLevel: "error",
      outfile: join(BENCH_DIR, ".build", `${client.id}.js`),
    });
    const output = result.outputFiles[0]!.contents;
    const meta = Object.values(result.metafile.outputs)[0]!;
    // Our files one by one, each npm package as one entry (superjson is a dozen files).
    const parts = new Map<string, number>();
    for (const [path, input] of Object.entries(meta.inputs)) {
      const name = packageOf(path) ?? path.replace(/^(\.\.\/)+/, "");
      parts.set(name, (parts.get(name) ?? 0) + input.bytesInOutput);
    }
    const top = [...parts].map(([path, bytes]) => ({ path, bytes })).sort((a, b) => b.bytes - a.bytes).slice(0, 6);
    sizes.push({ id: client.id, label: client.label, kind: client.kind, minified: output.length, gzipped: gzipSync(output, { level: 9 }).length, top });
  }
  return sizes;
}

/** The npm package an input path belongs to (`@scope/name` or `name`), or undefined for our own files. */
function packageOf(path: string): string | undefined {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  return match === null ? undefined : `${match[1]} (package)`;
}
