import { type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { PushService } from "./gen/quicpush/push/v1/push_pb.js";
/** A client of the push API: one method per RPC of `PushService`. */
export type PushClient = Client<typeof PushService>;
/** The wire protocols the push API serves, all on the same address. */
export type PushProtocol = "connect" | "grpc" | "grpc-web";
/** Default of {@link PushClientOptions.timeoutMs}. */
export declare const DEFAULT_PUSH_TIMEOUT_MS = 10000;
/** Options of {@link createPushClient}. */
export interface PushClientOptions {
    /**
     * Base URL of the push API: `http://HOST:PORT` (the server's `--api-addr`)
     * or `https://...`, optionally with a path prefix. Required.
     */
    baseUrl: string;
    /** The API key, sent as `Authorization: Bearer <key>` on every call. Required. */
    apiKey: string;
    /**
     * The wire protocol. `"connect"` (the default) and `"grpc-web"` run over
     * HTTP/2 or HTTP/1.1 (see `httpVersion`); `"grpc"` always runs over HTTP/2.
     */
    protocol?: PushProtocol;
    /**
     * HTTP version of the `"connect"` and `"grpc-web"` protocols: `"2"` (the
     * default: one multiplexed connection, cleartext HTTP/2 for `http://`
     * URLs) or `"1.1"` (for proxies that do not speak HTTP/2). Ignored by
     * `"grpc"`.
     */
    httpVersion?: "1.1" | "2";
    /**
     * Deadline of each call in milliseconds, unless the call passes its own
     * `timeoutMs`; the server sees it too. Zero means no deadline. Default
     * 10000.
     */
    timeoutMs?: number;
    /**
     * Send JSON instead of binary protobuf (readable in logs and proxies,
     * larger). Default false. gRPC is always binary.
     */
    json?: boolean;
    /**
     * More interceptors (logging, retries, tracing). They run inside the one
     * that sets the API key, so they see the Authorization header.
     */
    interceptors?: Interceptor[];
}
/**
 * An interceptor that authenticates every call with `apiKey` as a bearer
 * token, replacing any Authorization header the call set.
 */
export declare function bearerAuth(apiKey: string): Interceptor;
/**
 * Creates a client of the push API for Node backends. Every call carries the
 * API key; a call resolves once the message bus durably accepted the
 * message, and rejects with a `ConnectError` otherwise (`Code.Unauthenticated`
 * for a bad key, `Code.InvalidArgument` for a bad request, ...), in which case
 * it may be retried.
 *
 * ```ts
 * const push = createPushClient({ baseUrl: "http://127.0.0.1:8080", apiKey });
 * const { messageId } = await push.pushRoom({ room: "lobby", text: '{"hello":1}' });
 * ```
 *
 * @throws TypeError for a missing or invalid option.
 */
export declare function createPushClient(options: PushClientOptions): PushClient;
/**
 * The transport {@link createPushClient} uses, for callers that build their
 * own clients with `createClient` from `@connectrpc/connect`.
 *
 * @throws TypeError for a missing or invalid option.
 */
export declare function createPushTransport(options: PushClientOptions): Transport;
