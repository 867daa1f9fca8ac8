/**
 * The demo's static files: the chat page and its assets from `public/` at `/`, and the generated
 * API documents at `/asyncapi.json` and `/schemas.json`. Plugs into an adapter's `fetch` fallback.
 * @module
 */
import { readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Content types of the files the demo serves. */
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

/** Documented paths that are not under `public/`. */
const DOCUMENTS: Record<string, string> = {
  "/asyncapi.json": "asyncapi.json",
  "/schemas.json": "client/generated/schemas.json",
};

/** Where the static files live. */
export interface StaticOptions {
  /** The repository root (holding `public/` and `asyncapi.json`). @default the directory above `app/` */
  root?: string;
}

/** A file name directly under `public/`: no slashes, no leading dot, so nothing outside it can be named. */
const PUBLIC_NAME = /^\/([A-Za-z0-9_-][A-Za-z0-9._-]*)$/;

/**
 * Builds the `fetch` fallback that serves the demo page and the API documents; anything else is 404.
 * @example serveDeno(service, { fetch: staticFiles() })
 */
export function staticFiles(options: StaticOptions = {}): (request: Request) => Promise<Response> {
  const root = options.root ?? fileURLToPath(new URL("..", import.meta.url));
  return async (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") return new Response("Method not allowed", { status: 405, headers: { allow: "GET, HEAD" } });
    const { pathname } = new URL(request.url);
    const file = pathname === "/" ? "public/index.html" : DOCUMENTS[pathname] ?? publicFile(pathname);
    if (file === undefined) return notFound();
    let body: Uint8Array;
    try {
      body = await readFile(join(root, file));
    } catch {
      return notFound();
    }
    const headers = {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      // The page and its bundle change with every codegen run; revalidate instead of caching stale code.
      "cache-control": "no-cache",
      ...(file.endsWith(".json") ? { "access-control-allow-origin": "*" } : {}),
    };
    return new Response(request.method === "HEAD" ? null : body as BodyInit, { headers });
  };
}

function publicFile(pathname: string): string | undefined {
  const name = PUBLIC_NAME.exec(pathname)?.[1];
  return name === undefined ? undefined : `public/${name}`;
}

function notFound(): Response {
  return new Response("Not found", { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } });
}
