/**
 * The API documents a service can serve (`documents` option): its AsyncAPI 3.0 document at
 * `/asyncapi.json` and the JSON Schema of its payloads at `/schemas.json`, generated from the
 * contract on first request (the same generator as `tether codegen`), then kept.
 * @module
 */
import type { ContractTree } from "../shared/contract.ts";
import { SUBPROTOCOL } from "../shared/version.ts";
import { generateAsyncApi } from "../codegen/asyncapi.ts";
import { schemasDocument } from "../codegen/files.ts";

/** What the served AsyncAPI document says about the service besides its contract. */
export interface DocumentsOptions {
  /** The document's title. @default "Tether service" */
  title?: string;
  /** The service's version. @default "0.0.0" */
  version?: string;
  /** What the service does. @default a sentence on how clients connect */
  description?: string;
}

/** The paths the documents are served at. */
const PATHS = ["/asyncapi.json", "/schemas.json"] as const;

/** Answers `GET /asyncapi.json` and `GET /schemas.json`; `undefined` for any other path. */
export type DocumentsRoute = (pathname: string, host: string) => Response | undefined;

/**
 * Builds the route serving a contract's documents. Each is generated once, on first request;
 * the AsyncAPI server entry names the host the request came to and the first socket path.
 */
export function documentsRoute(contract: ContractTree, options: DocumentsOptions, socketPath: string): DocumentsRoute {
  const cache = new Map<string, string>();
  const title = options.title ?? "Tether service";
  const generate = (pathname: string, host: string): string => {
    if (pathname === "/schemas.json") return JSON.stringify(schemasDocument(contract, title), null, 2);
    return JSON.stringify(
      generateAsyncApi({
        contract,
        title,
        version: options.version ?? "0.0.0",
        description: options.description ?? `Each procedure and topic is a channel on one WebSocket at \`${socketPath}\` (subprotocol \`${SUBPROTOCOL}\`).`,
        host,
        path: socketPath,
      }),
      null,
      2,
    );
  };
  return (pathname, host) => {
    if (!(PATHS as readonly string[]).includes(pathname)) return undefined;
    const key = `${pathname} ${host}`;
    let text = cache.get(key);
    if (text === undefined) {
      text = generate(pathname, host);
      // Bounded: hosts come from requests, so keep only a few distinct ones.
      if (cache.size >= 16) cache.clear();
      cache.set(key, text);
    }
    return new Response(text, {
      headers: { "content-type": "application/json; charset=utf-8", "access-control-allow-origin": "*", "cache-control": "no-cache" },
    });
  };
}

const routes = new WeakMap<object, DocumentsRoute>();

/** The documents route of one service (`owner`), built on first use and kept as long as the service. */
export function serviceDocuments(owner: object, contract: ContractTree, options: DocumentsOptions, socketPath: string): DocumentsRoute {
  let route = routes.get(owner);
  if (route === undefined) {
    route = documentsRoute(contract, options, socketPath);
    routes.set(owner, route);
  }
  return route;
}
