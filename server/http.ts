/**
 * The HTTP side of a service, shared by both adapters: health, 426 for plain GETs, subprotocol,
 * Origin and authentication checks before any socket exists (an authentication refusal is answered
 * on the opened socket: a browser cannot read a handshake's status), and the HTTP fallback's endpoints.
 * @module
 */
import type { ContractTree } from "../shared/contract.ts";
import { RpcError } from "../shared/errors.ts";
import { SUBPROTOCOL } from "../shared/protocol.ts";
import { handshakeProblem } from "./handshake.ts";
import { answerFallback, isFallbackPath } from "./http-fallback.ts";
import { serviceDocuments } from "./documents.ts";
import type { Service } from "./service.ts";

/** What an adapter does with a request. */
export type Route<A> =
  | { kind: "upgrade"; auth: A; refused?: RpcError }
  | { kind: "response"; response: Response; /** A long-lived stream (HTTP fallback): the adapter lifts its idle timeout. */ stream?: boolean }
  | { kind: "pass" };

/**
 * Decides what a request gets: an upgrade (with its auth), a ready response, or "pass" to the
 * adapter's fallback handler (static files, the app's own routes). Synchronous unless the answer
 * waits for something (an HTTP fallback request, an asynchronous `authenticate`): on Bun an upgrade
 * decided in the same turn costs less memory per connection than one decided after an await.
 */
export function routeRequest<C extends ContractTree, A>(service: Service<C, A>, request: Request, ip = ""): Route<A> | Promise<Route<A>> {
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
  if (isFallbackPath(service.options.paths, url.pathname)) return fallbackRoute(service, request, url, ip);
  const { documents } = service.options;
  if (documents !== false) {
    const route = serviceDocuments(service, service.contract, documents === true ? {} : documents, service.options.paths[0] ?? "/ws");
    const response = route(url.pathname, url.host);
    if (response !== undefined) return respond(response);
  }
  if (!service.options.paths.includes(url.pathname)) return { kind: "pass" };
  const route = upgradeRoute(service, request);
  return route instanceof Promise ? route.then((r) => counted(service, r)) : counted(service, route);
}

/** An HTTP fallback request's answer. */
async function fallbackRoute<C extends ContractTree, A>(service: Service<C, A>, request: Request, url: URL, ip: string): Promise<Route<A>> {
  const answer = originAllowed(request, service.options.origins)
    ? await answerFallback(service, request, url, ip)
    : { response: json({ error: "Origin not allowed" }, 403), stream: false };
  if (answer.response.status >= 400) service.metrics.refuse(answer.response.status);
  return { kind: "response", ...answer };
}

/** Counts a refused upgrade in the metrics, and passes the route on. */
function counted<C extends ContractTree, A>(service: Service<C, A>, route: Route<A>): Route<A> {
  if (route.kind === "response") service.metrics.refuse(route.response.status);
  else if (route.kind === "upgrade" && route.refused !== undefined) service.metrics.refuse(route.refused.code === "FORBIDDEN" ? 403 : 401);
  return route;
}

/** The checks a socket request passes before its upgrade, in order: upgrade header, handshake, shutdown, Origin, subprotocol, authentication. */
function upgradeRoute<C extends ContractTree, A>(service: Service<C, A>, request: Request): Route<A> | Promise<Route<A>> {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return respond(json({ error: `Upgrade required: connect with a WebSocket offering "${SUBPROTOCOL}"` }, 426, { upgrade: "websocket" }));
  }
  const malformed = handshakeProblem(request);
  if (malformed !== undefined) return respond(malformed);
  if (!service.accepting) {
    return respond(json({ error: "Server is shutting down: reconnect to another instance" }, 503, { "retry-after": "1" }));
  }
  if (!originAllowed(request, service.options.origins)) {
    return respond(json({ error: "Origin not allowed" }, 403));
  }
  const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
  if (!offered.includes(SUBPROTOCOL)) {
    return respond(json({ error: `Unsupported subprotocol: offer "${SUBPROTOCOL}"` }, 400));
  }
  if (service.options.authenticate === undefined) return { kind: "upgrade", auth: undefined as A };
  let auth: A | Promise<A>;
  try {
    auth = service.options.authenticate(request);
  } catch (error) {
    return refusedUpgrade(error);
  }
  if (typeof (auth as PromiseLike<A> | null)?.then !== "function") return { kind: "upgrade", auth: auth as A };
  return Promise.resolve(auth).then((value): Route<A> => ({ kind: "upgrade", auth: value }), refusedUpgrade);
}

/**
 * The route of a socket whose authentication threw. A browser cannot read the status of a refused
 * handshake, only a close code: the socket opens (it offered tether.v1, checked before), gets the
 * error frame and closes with 4401 / 4403.
 */
function refusedUpgrade(error: unknown): Route<never> {
  const forbidden = error instanceof RpcError && error.code === "FORBIDDEN";
  const message = error instanceof RpcError ? error.message : "Authentication failed";
  return { kind: "upgrade", auth: undefined as never, refused: new RpcError(forbidden ? "FORBIDDEN" : "UNAUTHORIZED", message) };
}

/**
 * Whether a browser's Origin may open a socket: no Origin (not a browser), `"*"`, or one in the
 * allow-list; with no list configured, loopback origins only. Guards against Cross-Site WebSocket
 * Hijacking. The server's own origin is never read from the request: a Host header is whatever the
 * page's DNS name says, so trusting it lets a DNS-rebinding page (Host and Origin both
 * `rebind.evil.example`) through.
 */
function originAllowed(request: Request, allowed: readonly string[] | undefined): boolean {
  const origin = request.headers.get("origin");
  if (origin === null) return true;
  if (allowed === undefined) return isLoopback(origin);
  return allowed.includes("*") || allowed.includes(origin);
}

/** Host names of the loopback origins allowed when no `origins` are configured: pages served by this machine. */
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Whether an Origin is http(s) on a loopback host, any port. */
function isLoopback(origin: string): boolean {
  if (!URL.canParse(origin)) return false;
  const { protocol, hostname } = new URL(origin);
  return (protocol === "http:" || protocol === "https:") && LOOPBACK_HOSTS.has(hostname);
}

function respond(response: Response): Route<never> {
  return { kind: "response", response };
}

function json(body: unknown, status: number, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}
