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
    const top = Object.entries(meta.inputs)
      .map(([path, input]) => ({ path: path.replace(/^(\.\.\/)+/, "").replace(/^.*node_modules\//, ""), bytes: input.bytesInOutput }))
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, 6);
    sizes.push({ id: client.id, label: client.label, kind: client.kind, minified: output.length, gzipped: gzipSync(output, { level: 9 }).length, top });
  }
  return sizes;
}
