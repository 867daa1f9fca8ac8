/**
 * The HTTP fallback transport's routes, for clients whose WebSocket cannot open: `GET <path>/http`
 * opens a session and streams its frames, `POST <path>/http` carries client frames into it,
 * `DELETE <path>/http` ends it. A POST that reaches an instance other than the session's is
 * forwarded through the broker's session relay (Redis), so no sticky sessions are needed.
 * PROTOCOL.md, "HTTP fallback", is the wire contract.
 * @module
 */
import type { ContractTree } from "../shared/contract.ts";
import { RpcError } from "../shared/errors.ts";
import { SUBPROTOCOL } from "../shared/version.ts";
import type { Connection } from "./connection.ts";
import { HttpSession } from "./http-session.ts";
import type { Service } from "./service.ts";

/** Appended to a socket path to name its HTTP fallback endpoint (`/ws` → `/ws/http`). */
export const HTTP_FALLBACK_SUFFIX = "/http";

/** Response header carrying a new session's token; request header naming the session of a POST or DELETE. */
export const SESSION_HEADER = "tether-session";

/** Request header numbering a session's POST bodies from 0, so the server runs them in order and once. */
export const SEQ_HEADER = "tether-seq";

/** A POST body may hold several frames: at most this many times `limits.maxFrameBytes` bytes. */
export const POST_BODY_FRAMES = 4;

/** What the fallback answers, or "stream" for a new session's long-lived response. */
export type FallbackAnswer = { response: Response; stream: boolean };

interface Live<A> {
  session: HttpSession;
  conn: Connection<A>;
}

/** One service's sessions on this instance, by token; created on first use. */
class Sessions<A> {
  readonly live = new Map<string, Live<A>>();
  readonly instance: string;
  /** Settles once this instance listens for forwarded POSTs (before its first session's token is out). */
  readonly listening: Promise<void>;

  constructor(private readonly service: Service<ContractTree, A>) {
    const relay = service.options.broker.sessions;
    this.instance = relay?.instance ?? crypto.randomUUID();
    this.listening = (relay?.listen((message) => this.relayed(message)) ?? Promise.resolve()).catch((error) => {
      service.options.logger.warn("HTTP fallback relay unavailable: POSTs reaching other instances will be refused", { error: String(error) });
    });
  }

  /** A POST body another instance forwarded here. */
  private relayed(message: string): void {
    const { t, s, b } = JSON.parse(message) as { t: string; s: number; b: string };
    const live = this.live.get(t);
    if (live === undefined) return this.service.options.logger.warn("forwarded POST for an unknown session: dropped", { seq: s });
    if (live.session.accept(s, b) === "too-early") live.conn.close(1013, "retry=100; too many POSTs out of order");
  }
}

const registries = new WeakMap<object, Sessions<unknown>>();

function sessionsOf<A>(service: Service<ContractTree, A>): Sessions<A> {
  let sessions = registries.get(service) as Sessions<A> | undefined;
  if (sessions === undefined) registries.set(service, (sessions = new Sessions(service)) as Sessions<unknown>);
  return sessions;
}

/** Whether a path is one of the service's HTTP fallback endpoints. */
export function isFallbackPath(paths: readonly string[], pathname: string): boolean {
  return pathname.endsWith(HTTP_FALLBACK_SUFFIX) && paths.includes(pathname.slice(0, -HTTP_FALLBACK_SUFFIX.length));
}

/**
 * Answers one request to a fallback endpoint. Origin has been checked by the caller.
 * @param ip the peer address, for per-IP limits
 */
export async function answerFallback<C extends ContractTree, A>(service: Service<C, A>, request: Request, url: URL, ip: string): Promise<FallbackAnswer> {
  const sessions = sessionsOf(service as unknown as Service<ContractTree, A>);
  if (request.method === "GET") return await openSession(service, sessions, request, url, ip);
  if (request.method === "POST") return { response: await post(service, sessions, request), stream: false };
  if (request.method === "DELETE") {
    sessions.live.get(request.headers.get(SESSION_HEADER) ?? "")?.conn.close(1000, "client left");
    return { response: new Response(null, { status: 204 }), stream: false };
  }
  return { response: json({ error: "Method not allowed: use GET, POST or DELETE" }, 405, { allow: "GET, POST, DELETE" }), stream: false };
}

/** GET: the checks an upgrade passes (shutdown, protocol, authentication), then a session and its stream. */
async function openSession<C extends ContractTree, A>(service: Service<C, A>, sessions: Sessions<A>, request: Request, url: URL, ip: string): Promise<FallbackAnswer> {
  const refuse = (body: unknown, status: number, headers: Record<string, string> = {}) => ({ response: json(body, status, headers), stream: false });
  if (!service.accepting) return refuse({ error: "Server is shutting down: reconnect to another instance" }, 503, { "retry-after": "1" });
  if (url.searchParams.get("protocol") !== SUBPROTOCOL) return refuse({ error: `Unsupported protocol: ask for "?protocol=${SUBPROTOCOL}"` }, 400);
  let auth = undefined as A;
  if (service.options.authenticate !== undefined) {
    try {
      auth = await service.options.authenticate(request);
    } catch (error) {
      const forbidden = error instanceof RpcError && error.code === "FORBIDDEN";
      return refuse({ error: error instanceof RpcError ? error.message : "Authentication failed" }, forbidden ? 403 : 401);
    }
  }
  await sessions.listening;
  const token = `${sessions.instance}.${randomToken()}`;
  // The session's events need its connection, which needs the session: filled in right below.
  const opened: { conn?: Connection<A> } = {};
  const session = new HttpSession(token, {
    drain: () => opened.conn !== undefined && service.drain(opened.conn),
    frame: (frame) => opened.conn !== undefined && service.receive(opened.conn, frame),
    ended: (code) => {
      sessions.live.delete(token);
      if (opened.conn !== undefined) service.closed(opened.conn, code);
    },
  });
  const conn = (opened.conn = service.open(session, auth, ip));
  if (!session.closed) sessions.live.set(token, { session, conn });
  const headers = {
    "content-type": "application/x-ndjson; charset=utf-8",
    // Proxies must pass each line on at once, not buffer or transform the stream.
    "cache-control": "no-store, no-transform",
    "x-accel-buffering": "no",
    [SESSION_HEADER]: token,
  };
  return { response: new Response(session.body, { status: 200, headers }), stream: true };
}

/** POST: frames for a session, here or (through the relay) on the instance that holds it. */
async function post<C extends ContractTree, A>(service: Service<C, A>, sessions: Sessions<A>, request: Request): Promise<Response> {
  // A cross-site form can only send text/plain, urlencoded or multipart bodies without a preflight.
  const type = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") return json({ error: "Unsupported content type: send application/json" }, 415);
  const token = request.headers.get(SESSION_HEADER) ?? "";
  const seq = Number(request.headers.get(SEQ_HEADER));
  if (!/^[\w-]{1,64}\.[\w-]{43}$/.test(token)) return json({ error: `Missing or malformed ${SESSION_HEADER} header` }, 400);
  if (!Number.isSafeInteger(seq) || seq < 0) return json({ error: `Missing or malformed ${SEQ_HEADER} header` }, 400);
  const body = await readBody(request, service.options.limits.maxFrameBytes * POST_BODY_FRAMES);
  if (body === undefined) return json({ error: `Body too large: at most ${POST_BODY_FRAMES} × maxFrameBytes bytes` }, 413);
  const live = sessions.live.get(token);
  if (live !== undefined) {
    if (live.session.accept(seq, body) === "too-early") return json({ error: "Too many POSTs ahead of a missing one" }, 409);
    return new Response(null, { status: 204 });
  }
  const instance = token.slice(0, token.indexOf("."));
  const relay = service.options.broker.sessions;
  if (instance === sessions.instance || relay === undefined) return json({ error: "Unknown session: open a new one" }, 404);
  let delivered: boolean;
  try {
    delivered = await relay.forward(instance, JSON.stringify({ t: token, s: seq, b: body }));
  } catch {
    return json({ error: "Session unreachable: the broker is down" }, 503, { "retry-after": "1" });
  }
  return delivered ? new Response(null, { status: 202 }) : json({ error: "Unknown session: open a new one" }, 404);
}

/** Reads a body as text, or undefined once it passes `max` bytes (declared or actual). */
async function readBody(request: Request, max: number): Promise<string | undefined> {
  const declared = request.headers.get("content-length");
  if (Number(declared ?? 0) > max) return undefined;
  // A declared length is enforced by the runtime's HTTP parser: read it in one go.
  if (declared !== null) return await request.text();
  if (request.body === null) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) all.set(chunk, (at += chunk.byteLength) - chunk.byteLength);
  return new TextDecoder().decode(all);
}

/** 32 random bytes, base64url: the unguessable part of a session token. */
function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function json(body: unknown, status: number, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}
