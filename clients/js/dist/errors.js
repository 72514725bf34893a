import { codeName } from "./codes.js";
export const ClientCode = {
    Closed: 1,
    Timeout: 2,
    TransportFailed: 3,
    Left: 4,
    TokenFailed: 5,
    BadFrame: 6,
    ListenerFailed: 7,
    Unsupported: 8,
};
const clientNames = {
    1: "client closed",
    2: "timeout",
    3: "transport failed",
    4: "room left",
    5: "token failed",
    6: "bad frame",
    7: "listener failed",
    8: "unsupported by the edge",
};
export class QuicpushError extends Error {
    code;
    reason;
    constructor(code, reason = "", options) {
        const name = clientNames[code] ?? codeName(code);
        super(`[${code} ${name}]${reason ? " " + reason : ""}`, options);
        this.name = "QuicpushError";
        this.code = code;
        this.reason = reason;
    }
}
