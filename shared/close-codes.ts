/**
 * The close-code table of protocol v1 (PROTOCOL.md, section 8). Kept apart from protocol.ts so the
 * client bundle can use it without pulling in the frame schemas.
 * @module
 */

/** Every close code the server or the client uses, with its meaning (PROTOCOL.md has the table). */
export enum CloseCode {
  /** Normal closure: the client or server closed on purpose. */
  NORMAL = 1000,
  /** Going away: the server is shutting down; the reason carries `retry=<ms>`. */
  GOING_AWAY = 1001,
  /** Policy violation: the peer broke a rule it was told about (rate limit abuse). */
  POLICY = 1008,
  /** Message too big: a frame exceeded `limits.maxFrameBytes`, or a binary frame was sent. */
  TOO_BIG = 1009,
  /** Internal error: the server failed in a way it could not answer with an error frame. */
  INTERNAL = 1011,
  /** Try again later: the server is overloaded; the reason carries `retry=<ms>`. */
  TRY_AGAIN_LATER = 1013,
  /** No traffic from the peer within the announced heartbeat timeout. */
  HEARTBEAT_TIMEOUT = 4000,
  /** The peer sent frames the protocol cannot answer (it is not speaking tether.v1). */
  PROTOCOL_ERROR = 4001,
  /** The connection's authentication expired or was revoked. */
  AUTH_EXPIRED = 4003,
  /** The handshake's credentials were missing or invalid (`authenticate` threw UNAUTHORIZED or any error). */
  UNAUTHORIZED = 4401,
  /** The handshake's credentials were valid but not allowed (`authenticate` threw FORBIDDEN). */
  FORBIDDEN = 4403,
  /** The client read too slowly and the topic's slow-consumer policy is "disconnect". */
  SLOW_CONSUMER = 4008,
}
