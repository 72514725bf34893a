/**
 * Codes of failures found by the client itself. They sit below 100 so they
 * never collide with the protocol's request error codes (100-105) or
 * disconnect codes (3000-3999), which {@link QuicpushError} carries as they are.
 */
export declare const ClientCode: {
    /** The client was closed (close() or the options' AbortSignal). */
    readonly Closed: 1;
    /** A request or a connect attempt did not finish in time. */
    readonly Timeout: 2;
    /** No transport could be opened, or the connection failed. */
    readonly TransportFailed: 3;
    /** A joinRoom was interrupted by leaveRoom of the same room. */
    readonly Left: 4;
    /** The token function threw or returned something other than a string (or, to refresh, a token over 8192 bytes). */
    readonly TokenFailed: 5;
    /** The server sent a frame that does not decode. */
    readonly BadFrame: 6;
    /** An event listener or a room's message handler threw. */
    readonly ListenerFailed: 7;
    /**
     * The edge does not speak the protocol revision a request needs (presence
     * needs revision 5): the request was not sent.
     */
    readonly Unsupported: 8;
};
/** A client-side failure code. */
export type ClientCode = (typeof ClientCode)[keyof typeof ClientCode];
/**
 * The error of every failed client operation. `code` is a protocol code (a
 * request error such as 101 forbidden, or a disconnect code such as 3500
 * invalid token) or a {@link ClientCode}.
 */
export declare class QuicpushError extends Error {
    /** Protocol code (100-105, 3000-3999) or {@link ClientCode} (below 100). */
    readonly code: number;
    /** The detail without the code: the edge's reason or message, or the client's. */
    readonly reason: string;
    constructor(code: number, reason?: string, options?: {
        cause?: unknown;
    });
}
