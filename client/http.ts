/**
 * The HTTP fallback for the Tether client, an opt-in import so the WebSocket-only bundle stays
 * small: `createClient(url, { WebSocket: httpFallback().WebSocket })`.
 * @module
 */
export { httpFallback, type HttpFallback, type HttpFallbackOptions, type TransportKind } from "./http-fallback.ts";
export { HttpSocket } from "./http-socket.ts";
