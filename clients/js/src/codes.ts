/**
 * Disconnect and request error codes, mirrored from wire/codes.go (the single
 * source of the codes; docs/protocol-vectors.json pins the values and a unit
 * test checks this table against it).
 *
 * @module
 */

/** Every code of protocol version 1, by name. */
export const Code = {
  // Disconnect codes after which a client reconnects (3000-3499).
  /** The edge is draining: reconnect now, to another edge if there is one. */
  Shutdown: 3000,
  /** Internal error on the edge: reconnect with backoff. */
  ServerError: 3001,
  /** No frame from the client within the heartbeat window. */
  HeartbeatTimeout: 3002,
  /** The client did not read fast enough; its queue overflowed. */
  SlowConsumer: 3003,
  /** The token expired: reconnect with a fresh token. */
  TokenExpired: 3004,
  /** No Auth frame within the handshake timeout. */
  HandshakeTimeout: 3005,
  /** A backend disconnected the client and allowed a reconnect. */
  ServerDisconnect: 3006,
  /** Too many connections (per IP or user): reconnect with backoff. */
  ConnectionLimit: 3007,
  /** The client sent frames or bytes faster than the edge allows: reconnect with backoff. */
  RateLimited: 3008,

  // Disconnect codes after which a client stops (3500-3999).
  /** Token malformed, badly signed or not yet valid. */
  InvalidToken: 3500,
  /** Malformed frame, unknown op, op out of order. */
  ProtocolError: 3501,
  /** A frame exceeded the announced limit. */
  FrameTooLarge: 3502,
  /** Auth carried a protocol version this edge does not speak. */
  UnsupportedVersion: 3503,
  /** A backend disconnected the client and forbade a reconnect. */
  Kicked: 3504,

  // Request error codes, sent in Error frames; the connection stays open.
  /** The request body is invalid (for example an empty room name). */
  BadRequest: 100,
  /** The token does not allow this room. */
  Forbidden: 101,
  /** The connection is in as many rooms as the edge allows. */
  TooManyRooms: 102,
  /** Leave for a room the connection is not in. */
  NotJoined: 103,
  /** The edge failed to serve the request. */
  Internal: 104,
  /** Refresh carried a token that is invalid, expired or another user's. */
  TokenRejected: 105,
} as const;

/** A code defined by version 1. Other numbers may arrive from later edges. */
export type Code = (typeof Code)[keyof typeof Code];

/** The ranges a client decides by, so that codes added later are handled. */
export const CodeRange = {
  /** Disconnect codes after which a client reconnects with backoff. */
  reconnect: [3000, 3499],
  /** Disconnect codes after which a client stops and reports the code. */
  stop: [3500, 3999],
  /** Request error codes of version 1 (Error frames). */
  requestErrors: [100, 105],
} as const;

const names: Record<number, string> = {
  3000: "shutdown",
  3001: "server error",
  3002: "heartbeat timeout",
  3003: "slow consumer",
  3004: "token expired",
  3005: "handshake timeout",
  3006: "disconnected by server",
  3007: "connection limit",
  3008: "rate limited",
  3500: "invalid token",
  3501: "protocol error",
  3502: "frame too large",
  3503: "unsupported protocol version",
  3504: "kicked",
  100: "bad request",
  101: "forbidden",
  102: "too many rooms",
  103: "not joined",
  104: "internal error",
  105: "token rejected",
};

/** A short description of a code, as the Go `wire.Code.String` gives it. */
export function codeName(code: number): string {
  return names[code] ?? `code ${code}`;
}

/** Reports whether `code` is a disconnect code (3000-3999). */
export function isDisconnectCode(code: number): boolean {
  return code >= 3000 && code <= 3999;
}

/**
 * Reports whether a client disconnected with `code` should connect again.
 * Codes outside the stop range, including 0 for a connection that ended
 * without a code (a network failure), are reconnectable.
 */
export function shouldReconnect(code: number): boolean {
  return code < CodeRange.stop[0] || code > CodeRange.stop[1];
}
