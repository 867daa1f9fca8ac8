/**
 * The HTTP side of a service, shared by both adapters: health, 426 for plain GETs, subprotocol,
 * Origin and authentication checks before any socket exists (an authentication refusal is answered
 * on the opened socket: a browser cannot read a handshake's status), and the HTTP fallback's endpoints.
 * @module
 */
import type { ContractTree } from "../shared/contract.ts";
import { RpcError } from "../shared/errors.ts";
import { SUBPROTOCOL } from "../shared/protocol.ts";
import { answerFallback, isFallbackPath } from "./http-fallback.ts";
import type { Service } from "./service.ts";

/** What an adapter does with a request. */
export type Route<A> =
  | { kind: "upgrade"; auth: A; refused?: RpcError }
  | { kind: "response"; response: Response; /** A long-lived stream (HTTP fallback): the adapter lifts its idle timeout. */ stream?: boolean }
  | { kind: "pass" };

/**
 * Decides what a request gets: an upgrade (with its auth), a ready response, or "pass" to the
 * adapter's fallback handler (static files, the app's own routes).
 */
export async function routeRequest<C extends ContractTree, A>(service: Service<C, A>, request: Request, ip = ""): Promise<Route<A>> {
  const url = new URL(request.url);
  if (url.pathname === "/healthz") {
    const healthy = service.options.broker.healthy();
    return respond(json({ status: healthy ? "ok" : "degraded", connections: service.connections.size }, 200));
  }
  if (url.pathname === "/readyz") {
    // Ready means "send me new connections": accepting and with a working broker.
    const ready = service.accepting && service.options.broker.healthy();
    return respond(json({ status: ready ? "ready" : service.accepting ? "broker unavailable" : "shutting down" }, ready ? 200 : 503));
  }
  if (url.pathname === "/metrics") {
    return respond(new Response(service.renderMetrics(), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } }));
  }
  if (isFallbackPath(service.options.paths, url.pathname)) {
    const answer = originAllowed(request, url, service.options.origins)
      ? await answerFallback(service, request, url, ip)
      : { response: json({ error: "Origin not allowed" }, 403), stream: false };
    if (answer.response.status >= 400) service.metrics.refuse(answer.response.status);
    return { kind: "response", ...answer };
  }
  if (!service.options.paths.includes(url.pathname)) return { kind: "pass" };
  const route = await upgradeRoute(service, request, url);
  if (route.kind === "response") service.metrics.refuse(route.response.status);
  else if (route.kind === "upgrade" && route.refused !== undefined) service.metrics.refuse(route.refused.code === "FORBIDDEN" ? 403 : 401);
  return route;
}

/** The checks a socket request passes before its upgrade, in order: upgrade header, shutdown, Origin, subprotocol, authentication. */
async function upgradeRoute<C extends ContractTree, A>(service: Service<C, A>, request: Request, url: URL): Promise<Route<A>> {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return respond(json({ error: `Upgrade required: connect with a WebSocket offering "${SUBPROTOCOL}"` }, 426, { upgrade: "websocket" }));
  }
  if (!service.accepting) {
    return respond(json({ error: "Server is shutting down: reconnect to another instance" }, 503, { "retry-after": "1" }));
  }
  if (!originAllowed(request, url, service.options.origins)) {
    return respond(json({ error: "Origin not allowed" }, 403));
  }
  const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
  if (!offered.includes(SUBPROTOCOL)) {
    return respond(json({ error: `Unsupported subprotocol: offer "${SUBPROTOCOL}"` }, 400));
  }
  if (service.options.authenticate === undefined) return { kind: "upgrade", auth: undefined as A };
  try {
    return { kind: "upgrade", auth: await service.options.authenticate(request) };
  } catch (error) {
    // A browser cannot read the status of a refused handshake, only a close code: the socket opens
    // (it offered tether.v1, checked above), gets the error frame and closes with 4401 / 4403.
    const forbidden = error instanceof RpcError && error.code === "FORBIDDEN";
    const message = error instanceof RpcError ? error.message : "Authentication failed";
    return { kind: "upgrade", auth: undefined as A, refused: new RpcError(forbidden ? "FORBIDDEN" : "UNAUTHORIZED", message) };
  }
}

/**
 * Whether a browser's Origin may open a socket: no Origin (not a browser), the server's own origin,
 * or one in the allow-list (`"*"` allows any). Guards against Cross-Site WebSocket Hijacking.
 */
function originAllowed(request: Request, url: URL, allowed: readonly string[]): boolean {
  const origin = request.headers.get("origin");
  if (origin === null || allowed.includes("*") || allowed.includes(origin)) return true;
  const host = request.headers.get("host") ?? url.host;
  return origin === `http://${host}` || origin === `https://${host}`;
}

function respond(response: Response): Route<never> {
  return { kind: "response", response };
}

function json(body: unknown, status: number, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}
