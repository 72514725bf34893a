export const Code = {
    Shutdown: 3000,
    ServerError: 3001,
    HeartbeatTimeout: 3002,
    SlowConsumer: 3003,
    TokenExpired: 3004,
    HandshakeTimeout: 3005,
    ServerDisconnect: 3006,
    ConnectionLimit: 3007,
    RateLimited: 3008,
    InvalidToken: 3500,
    ProtocolError: 3501,
    FrameTooLarge: 3502,
    UnsupportedVersion: 3503,
    Kicked: 3504,
    BadRequest: 100,
    Forbidden: 101,
    TooManyRooms: 102,
    NotJoined: 103,
    Internal: 104,
    TokenRejected: 105,
};
export const CodeRange = {
    reconnect: [3000, 3499],
    stop: [3500, 3999],
    requestErrors: [100, 105],
};
const names = {
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
export function codeName(code) {
    return names[code] ?? `code ${code}`;
}
export function isDisconnectCode(code) {
    return code >= 3000 && code <= 3999;
}
export function shouldReconnect(code) {
    return code < CodeRange.stop[0] || code > CodeRange.stop[1];
}
