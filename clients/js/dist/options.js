import { DEFAULT_MAX_FRAME, HEADER_SIZE } from "./codec.js";
export const DEFAULT_WEBTRANSPORT_TIMEOUT_MS = 1500;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10000;
export const DEFAULT_BACKOFF_MIN_MS = 200;
export const DEFAULT_BACKOFF_MAX_MS = 20000;
export function resolveOptions(endpoints, o) {
    const problems = [];
    const ms = (v, def, name) => {
        if (v === undefined)
            return def;
        if (!Number.isFinite(v) || v <= 0)
            problems.push(`${name} must be a positive number, got ${v}`);
        return v;
    };
    if (typeof o.token !== "string" && typeof o.token !== "function") {
        problems.push("token must be a string or a function returning one");
    }
    if (!endpoints.webtransport && !endpoints.websocket)
        problems.push("no endpoint: set webtransport or websocket");
    for (const [name, url, schemes] of [
        ["webtransport", endpoints.webtransport, ["https:"]],
        ["websocket", endpoints.websocket, ["ws:", "wss:"]],
    ]) {
        if (url === undefined)
            continue;
        let u;
        try {
            u = new URL(url);
        }
        catch {
            problems.push(`${name} endpoint ${JSON.stringify(url)} is not a URL`);
        }
        if (u && !schemes.includes(u.protocol)) {
            problems.push(`${name} endpoint must use ${schemes.join(" or ")}, got ${u.protocol}`);
        }
    }
    const hashes = [];
    for (const h of o.serverCertificateHashes ?? []) {
        const bytes = typeof h === "string" ? parseHash(h) : new Uint8Array(h);
        if (bytes === undefined || bytes.length !== 32) {
            problems.push(`certificate hash ${typeof h === "string" ? JSON.stringify(h) : "array"} is not a 32-byte SHA-256`);
        }
        else {
            hashes.push(bytes);
        }
    }
    const minMs = ms(o.backoff?.minMs, DEFAULT_BACKOFF_MIN_MS, "backoff.minMs");
    const maxMs = ms(o.backoff?.maxMs, DEFAULT_BACKOFF_MAX_MS, "backoff.maxMs");
    if (maxMs < minMs)
        problems.push(`backoff.maxMs ${maxMs} is below backoff.minMs ${minMs}`);
    const maxFrame = o.maxFrame ?? DEFAULT_MAX_FRAME;
    if (!Number.isInteger(maxFrame) || maxFrame < HEADER_SIZE)
        problems.push(`maxFrame ${maxFrame} is below ${HEADER_SIZE}`);
    const resolved = {
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
    if (problems.length > 0)
        throw new TypeError(`quicpush: invalid options: ${problems.join("; ")}`);
    return resolved;
}
export function parseHash(s) {
    const t = s.trim();
    const hex = t.replace(/:/g, "");
    if (/^[0-9a-fA-F]{64}$/.test(hex)) {
        const out = new Uint8Array(32);
        for (let i = 0; i < 32; i++)
            out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
        return out;
    }
    const b64 = t.replace(/ /g, "+").replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
    if (!/^[A-Za-z0-9+/]*$/.test(b64))
        return undefined;
    let bin;
    try {
        bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    }
    catch {
        return undefined;
    }
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++)
        out[i] = bin.charCodeAt(i);
    return out;
}
