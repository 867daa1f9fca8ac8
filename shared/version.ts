/**
 * The protocol version and the subprotocol that names it. Kept apart from protocol.ts so the client
 * bundle can use them without pulling in the frame schemas.
 * @module
 */

/** The protocol version this code speaks. */
export const PROTOCOL_VERSION = 1;

/** The `Sec-WebSocket-Protocol` value a client offers and the server accepts. */
export const SUBPROTOCOL = "tether.v1";
