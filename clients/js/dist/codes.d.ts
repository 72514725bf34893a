/**
 * Disconnect and request error codes, mirrored from wire/codes.go (the single
 * source of the codes; docs/protocol-vectors.json pins the values and a unit
 * test checks this table against it).
 *
 * @module
 */
/** Every code of protocol version 1, by name. */
export declare const Code: {
    /** The edge is draining: reconnect now, to another edge if there is one. */
    readonly Shutdown: 3000;
    /** Internal error on the edge: reconnect with backoff. */
    readonly ServerError: 3001;
    /** No frame from the client within the heartbeat window. */
    readonly HeartbeatTimeout: 3002;
    /** The client did not read fast enough; its queue overflowed. */
    readonly SlowConsumer: 3003;
    /** The token expired: reconnect with a fresh token. */
    readonly TokenExpired: 3004;
    /** No Auth frame within the handshake timeout. */
    readonly HandshakeTimeout: 3005;
    /** A backend disconnected the client and allowed a reconnect. */
    readonly ServerDisconnect: 3006;
    /** Too many connections (per IP or user): reconnect with backoff. */
    readonly ConnectionLimit: 3007;
    /** The client sent frames or bytes faster than the edge allows: reconnect with backoff. */
    readonly RateLimited: 3008;
    /** Token malformed, badly signed or not yet valid. */
    readonly InvalidToken: 3500;
    /** Malformed frame, unknown op, op out of order. */
    readonly ProtocolError: 3501;
    /** A frame exceeded the announced limit. */
    readonly FrameTooLarge: 3502;
    /** Auth carried a protocol version this edge does not speak. */
    readonly UnsupportedVersion: 3503;
    /** A backend disconnected the client and forbade a reconnect. */
    readonly Kicked: 3504;
    /** The request body is invalid (for example an empty room name). */
    readonly BadRequest: 100;
    /** The token does not allow this room. */
    readonly Forbidden: 101;
    /** The connection is in as many rooms as the edge allows. */
    readonly TooManyRooms: 102;
    /** Leave for a room the connection is not in. */
    readonly NotJoined: 103;
    /** The edge failed to serve the request. */
    readonly Internal: 104;
    /** Refresh carried a token that is invalid, expired or another user's. */
    readonly TokenRejected: 105;
};
/** A code defined by version 1. Other numbers may arrive from later edges. */
export type Code = (typeof Code)[keyof typeof Code];
/** The ranges a client decides by, so that codes added later are handled. */
export declare const CodeRange: {
    /** Disconnect codes after which a client reconnects with backoff. */
    readonly reconnect: readonly [3000, 3499];
    /** Disconnect codes after which a client stops and reports the code. */
    readonly stop: readonly [3500, 3999];
    /** Request error codes of version 1 (Error frames). */
    readonly requestErrors: readonly [100, 105];
};
/** A short description of a code, as the Go `wire.Code.String` gives it. */
export declare function codeName(code: number): string;
/** Reports whether `code` is a disconnect code (3000-3999). */
export declare function isDisconnectCode(code: number): boolean;
/**
 * Reports whether a client disconnected with `code` should connect again.
 * Codes outside the stop range, including 0 for a connection that ended
 * without a code (a network failure), are reconnectable.
 */
export declare function shouldReconnect(code: number): boolean;
