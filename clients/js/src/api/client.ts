import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";

import { PushService } from "./gen/quicpush/push/v1/push_pb.js";

/** A client of the push API: one method per RPC of `PushService`. */
export type PushClient = Client<typeof PushService>;

/** The wire protocols the push API serves, all on the same address. */
export type PushProtocol = "connect" | "grpc" | "grpc-web";

/** Default of {@link PushClientOptions.timeoutMs}. */
export const DEFAULT_PUSH_TIMEOUT_MS = 10_000;

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

const protocols: readonly PushProtocol[] = ["connect", "grpc", "grpc-web"];

/**
 * An interceptor that authenticates every call with `apiKey` as a bearer
 * token, replacing any Authorization header the call set.
 */
export function bearerAuth(apiKey: string): Interceptor {
  checkKey(apiKey);
  const value = `Bearer ${apiKey}`;
  return (next) => (req) => {
    req.header.set("Authorization", value);
    return next(req);
  };
}

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
export function createPushClient(options: PushClientOptions): PushClient {
  return createClient(PushService, createPushTransport(options));
}

/**
 * The transport {@link createPushClient} uses, for callers that build their
 * own clients with `createClient` from `@connectrpc/connect`.
 *
 * @throws TypeError for a missing or invalid option.
 */
export function createPushTransport(options: PushClientOptions): Transport {
  if (typeof options !== "object" || options === null) throw new TypeError("createPushClient: options are required");
  const { baseUrl, apiKey, protocol = "connect", httpVersion = "2", timeoutMs = DEFAULT_PUSH_TIMEOUT_MS, json = false } = options;
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new TypeError(`createPushClient: baseUrl ${JSON.stringify(baseUrl)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`createPushClient: baseUrl must be http: or https:, not ${url.protocol}`);
  }
  if (!protocols.includes(protocol)) {
    throw new TypeError(`createPushClient: protocol must be one of ${protocols.join(", ")}, not ${JSON.stringify(protocol)}`);
  }
  if (httpVersion !== "1.1" && httpVersion !== "2") {
    throw new TypeError(`createPushClient: httpVersion must be "1.1" or "2", not ${JSON.stringify(httpVersion)}`);
  }
  if (typeof timeoutMs !== "number" || !(timeoutMs >= 0)) {
    throw new TypeError(`createPushClient: timeoutMs must be a number >= 0, not ${String(timeoutMs)}`);
  }
  const common = {
    baseUrl,
    useBinaryFormat: !json,
    // Responses are a few dozen bytes: compressed they grow, and inflating
    // them costs a zlib round trip (about 0.7 ms per call on loopback).
    acceptCompression: [],
    // The first interceptor is the outermost: the key is set before the
    // caller's interceptors see the request.
    interceptors: [bearerAuth(apiKey), ...(options.interceptors ?? [])],
    ...(timeoutMs > 0 ? { defaultTimeoutMs: timeoutMs } : {}),
  };
  switch (protocol) {
    case "grpc":
      return createGrpcTransport({ ...common, useBinaryFormat: true });
    case "grpc-web":
      return createGrpcWebTransport({ ...common, httpVersion });
    default:
      return createConnectTransport({ ...common, httpVersion });
  }
}

function checkKey(apiKey: unknown): asserts apiKey is string {
  if (typeof apiKey !== "string" || apiKey === "") throw new TypeError("createPushClient: apiKey is required");
  // A header value cannot hold control characters; spaces would split the
  // credentials. Refuse both here rather than on the first call.
  if (/[\s\x00-\x1f\x7f]/.test(apiKey)) throw new TypeError("createPushClient: apiKey must not contain spaces or control characters");
}
