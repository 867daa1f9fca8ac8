/**
 * The WebSocket opening handshake (RFC 6455, section 4.2.1), checked by the core before either
 * adapter upgrades, so that both runtimes answer a bad one alike. Bun checks most of it itself;
 * Deno's `upgradeWebSocket` throws a TypeError (a 500) on some mistakes and upgrades others.
 * @module
 */

/** A Sec-WebSocket-Key is the base64 form of 16 bytes: 22 characters and "==". */
const KEY = /^[A-Za-z0-9+/]{22}==$/;

/** The WebSocket version this server speaks; any other is answered 426 naming it. */
const VERSION = "13";

/**
 * What is wrong with a request that asks for a WebSocket upgrade, as the response to send instead
 * (400, or 426 with `Sec-WebSocket-Version: 13` for another version); undefined when it is well formed.
 */
export function handshakeProblem(request: Request): Response | undefined {
  const headers = request.headers;
  if (request.method !== "GET") return refuse(400, "WebSocket upgrade must be a GET request");
  const connection = (headers.get("connection") ?? "").split(",").map((token) => token.trim().toLowerCase());
  if (!connection.includes("upgrade")) return refuse(400, 'WebSocket upgrade needs "Connection: Upgrade"');
  if (!KEY.test(headers.get("sec-websocket-key") ?? "")) return refuse(400, "WebSocket upgrade needs a Sec-WebSocket-Key of 16 bytes in base64");
  if (headers.get("sec-websocket-version") !== VERSION) {
    return refuse(426, `Unsupported WebSocket version: this server speaks version ${VERSION}`, { "sec-websocket-version": VERSION });
  }
  return undefined;
}

function refuse(status: number, error: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ error }), { status, headers: { "content-type": "application/json", ...headers } });
}
