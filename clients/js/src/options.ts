import { DEFAULT_MAX_FRAME, HEADER_SIZE } from "./codec.js";

/** Default of {@link ClientOptions.webTransportTimeoutMs}. */
export const DEFAULT_WEBTRANSPORT_TIMEOUT_MS = 1500;
/** Default of {@link ClientOptions.connectTimeoutMs}. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
/** Default of {@link ClientOptions.requestTimeoutMs}. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10000;
/** Default of {@link BackoffOptions.minMs}. */
export const DEFAULT_BACKOFF_MIN_MS = 200;
/** Default of {@link BackoffOptions.maxMs}. */
export const DEFAULT_BACKOFF_MAX_MS = 20000;

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
export function resolveOptions(endpoints: Endpoints, o: ClientOptions): ResolvedOptions {
  const problems: string[] = [];
  const ms = (v: number | undefined, def: number, name: string): number => {
    if (v === undefined) return def;
    if (!Number.isFinite(v) || v <= 0) problems.push(`${name} must be a positive number, got ${v}`);
    return v;
  };
  if (typeof o.token !== "string" && typeof o.token !== "function") {
    problems.push("token must be a string or a function returning one");
  }
  if (!endpoints.webtransport && !endpoints.websocket) problems.push("no endpoint: set webtransport or websocket");
  for (const [name, url, schemes] of [
    ["webtransport", endpoints.webtransport, ["https:"]],
    ["websocket", endpoints.websocket, ["ws:", "wss:"]],
  ] as const) {
    if (url === undefined) continue;
    let u: URL | undefined;
    try {
      u = new URL(url);
    } catch {
      problems.push(`${name} endpoint ${JSON.stringify(url)} is not a URL`);
    }
    if (u && !(schemes as readonly string[]).includes(u.protocol)) {
      problems.push(`${name} endpoint must use ${schemes.join(" or ")}, got ${u.protocol}`);
    }
  }
  const hashes: Uint8Array<ArrayBuffer>[] = [];
  for (const h of o.serverCertificateHashes ?? []) {
    const bytes = typeof h === "string" ? parseHash(h) : new Uint8Array(h);
    if (bytes === undefined || bytes.length !== 32) {
      problems.push(`certificate hash ${typeof h === "string" ? JSON.stringify(h) : "array"} is not a 32-byte SHA-256`);
    } else {
      hashes.push(bytes);
    }
  }
  const minMs = ms(o.backoff?.minMs, DEFAULT_BACKOFF_MIN_MS, "backoff.minMs");
  const maxMs = ms(o.backoff?.maxMs, DEFAULT_BACKOFF_MAX_MS, "backoff.maxMs");
  if (maxMs < minMs) problems.push(`backoff.maxMs ${maxMs} is below backoff.minMs ${minMs}`);
  const maxFrame = o.maxFrame ?? DEFAULT_MAX_FRAME;
  if (!Number.isInteger(maxFrame) || maxFrame < HEADER_SIZE) problems.push(`maxFrame ${maxFrame} is below ${HEADER_SIZE}`);
  const resolved: ResolvedOptions = {
    token: o.token,
    serverCertificateHashes: hashes,
    webTransportTimeoutMs: ms(o.webTransportTimeoutMs, DEFAULT_WEBTRANSPORT_TIMEOUT_MS, "webTransportTimeoutMs"),
    connectTimeoutMs: ms(o.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, "connectTimeoutMs"),
    backoffMinMs: minMs,
    backoffMaxMs: maxMs,
    requestTimeoutMs: ms(o.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS, "requestTimeoutMs"),
    maxFrame,
    WebTransport: o.WebTransport === undefined ? (globalThis.WebTransport ?? null) : o.WebTransport,
    WebSocket: o.WebSocket === undefined ? (globalThis.WebSocket ?? null) : o.WebSocket,
  };
  if (problems.length > 0) throw new TypeError(`quicpush: invalid options: ${problems.join("; ")}`);
  return resolved;
}

/**
 * Decodes a certificate hash written in hex (64 digits, colons allowed) or
 * base64 / base64url. A "+" that a URL query turned into a space is put back.
 */
export function parseHash(s: string): Uint8Array<ArrayBuffer> | undefined {
  const t = s.trim();
  const hex = t.replace(/:/g, "");
  if (/^[0-9a-fA-F]{64}$/.test(hex)) {
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    return out;
  }
  const b64 = t.replace(/ /g, "+").replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  if (!/^[A-Za-z0-9+/]*$/.test(b64)) return undefined;
  let bin: string;
  try {
    bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  } catch {
    return undefined;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
