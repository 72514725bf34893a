/** Default of {@link ClientOptions.webTransportTimeoutMs}. */
export declare const DEFAULT_WEBTRANSPORT_TIMEOUT_MS = 1500;
/** Default of {@link ClientOptions.connectTimeoutMs}. */
export declare const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
/** Default of {@link ClientOptions.requestTimeoutMs}. */
export declare const DEFAULT_REQUEST_TIMEOUT_MS = 10000;
/** Default of {@link BackoffOptions.minMs}. */
export declare const DEFAULT_BACKOFF_MIN_MS = 200;
/** Default of {@link BackoffOptions.maxMs}. */
export declare const DEFAULT_BACKOFF_MAX_MS = 20000;
/** Where the edge listens. At least one endpoint is required. */
export interface Endpoints {
    /**
     * WebTransport URL (https), e.g. `https://push.example.com:4433/wt`. Tried
     * first when the runtime has WebTransport.
     */
    webtransport?: string | undefined;
    /**
     * WebSocket URL (ws or wss), e.g. `wss://push.example.com/ws`. Used when
     * WebTransport is missing, fails, or does not open in time.
     */
    websocket?: string | undefined;
}
/** Reconnect delays: full jitter, retry n waits uniform in [0, min(maxMs, minMs·2ⁿ)). */
export interface BackoffOptions {
    /** The ceiling of the first retry's delay. Default 200 ms. */
    minMs?: number | undefined;
    /**
     * The largest delay. Default 20 000 ms. A connection that stayed up this
     * long restarts the count.
     */
    maxMs?: number | undefined;
}
/** A token, or a function that returns one; see {@link ClientOptions.token}. */
export type TokenSource = string | (() => string | Promise<string>);
/** Options of a {@link Client}. Only `token` is required. */
export interface ClientOptions {
    /**
     * The JWT sent in Auth. A function is called before every connect attempt,
     * the first and each reconnect, so an expired token is replaced by a fresh
     * one; when it throws, the attempt fails and is retried with backoff.
     *
     * A function is also called when the edge warns that the live connection's
     * token expires soon (TokenExpiring, protocol revision 3): the fresh token
     * is sent on the same connection (Refresh), which then outlives the old
     * token without a reconnect. It must return a token of the same user. A
     * refresh that fails (the function throws, or the edge rejects the token
     * with 105) is reported as an 'error' event and the connection stays until
     * the old token expires; the edge then closes it with 3004 and the client
     * reconnects with a fresh token. With a fixed string the client cannot
     * refresh: the connection ends at the token's expiry with 3004, and the
     * client's reconnects with the same expired token are refused with 3004
     * (and retried with backoff). Use a function for tokens that expire.
     */
    token: TokenSource;
    /**
     * SHA-256 hashes of the edge's certificate, for WebTransport to a
     * self-signed development certificate (ECDSA, valid at most 14 days): 32-byte
     * arrays, or strings in base64, base64url or hex, as `quicpush serve`
     * prints them. Empty (the default) means a certificate signed by a trusted CA.
     */
    serverCertificateHashes?: ReadonlyArray<Uint8Array | string> | undefined;
    /**
     * How long WebTransport may take to open (session and stream) before the
     * client falls back to WebSocket. When WebTransport fails and WebSocket then
     * works, the client uses WebSocket for the rest of its life (unless
     * WebTransport worked before). Default 1500 ms.
     */
    webTransportTimeoutMs?: number | undefined;
    /**
     * Bounds the rest of one connect attempt: opening the WebSocket and the
     * Auth exchange. Default 5000 ms.
     */
    connectTimeoutMs?: number | undefined;
    /** Reconnect delays. Default: 200 ms to 20 s, full jitter. */
    backoff?: BackoffOptions | undefined;
    /** Bounds joinRoom and leaveRoom. Default 10 000 ms. */
    requestTimeoutMs?: number | undefined;
    /** Aborting it closes the client, as {@link Client.close} does. */
    signal?: AbortSignal | undefined;
    /** The largest frame accepted from the edge, header included. Default 65536. */
    maxFrame?: number | undefined;
    /**
     * The WebTransport constructor. Default `globalThis.WebTransport`; null
     * disables WebTransport.
     */
    WebTransport?: typeof WebTransport | null;
    /**
     * The WebSocket constructor, for runtimes without a global one. Default
     * `globalThis.WebSocket`; null disables WebSocket.
     */
    WebSocket?: typeof WebSocket | null;
}
/** Options with defaults applied and values checked. */
export interface ResolvedOptions {
    token: TokenSource;
    serverCertificateHashes: Uint8Array<ArrayBuffer>[];
    webTransportTimeoutMs: number;
    connectTimeoutMs: number;
    backoffMinMs: number;
    backoffMaxMs: number;
    requestTimeoutMs: number;
    maxFrame: number;
    WebTransport: typeof WebTransport | null;
    WebSocket: typeof WebSocket | null;
}
/** Applies defaults and checks every option; throws TypeError listing the problems. */
export declare function resolveOptions(endpoints: Endpoints, o: ClientOptions): ResolvedOptions;
/**
 * Decodes a certificate hash written in hex (64 digits, colons allowed) or
 * base64 / base64url. A "+" that a URL query turned into a space is put back.
 */
export declare function parseHash(s: string): Uint8Array<ArrayBuffer> | undefined;
