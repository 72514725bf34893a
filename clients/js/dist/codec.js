export const VERSION = 1;
export const REVISION = 5;
export const WEBSOCKET_PROTOCOL = "quicpush.v1";
export const ALPN = "quicpush/1";
export const HEADER_SIZE = 9;
export const DEFAULT_MAX_FRAME = 65536;
export const MAX_ROOM_LEN = 255;
export const MAX_TOKEN_LEN = 8192;
export const MAX_AUTH_FRAME = 8490;
export const MAX_INFO_LEN = 1024;
export const Op = {
    Auth: 0x01,
    AuthOK: 0x02,
    Ping: 0x03,
    Pong: 0x04,
    Join: 0x05,
    JoinOK: 0x06,
    Leave: 0x07,
    LeaveOK: 0x08,
    Push: 0x09,
    Error: 0x0a,
    Disconnect: 0x0b,
    TokenExpiring: 0x0c,
    Refresh: 0x0d,
    RefreshOK: 0x0e,
    Subscribed: 0x0f,
    Unsubscribed: 0x10,
    JoinLeave: 0x11,
    PresenceGet: 0x12,
    PresenceOK: 0x13,
};
export const PushKind = {
    Direct: 0,
    Room: 1,
    Broadcast: 2,
};
export const Recovery = {
    None: 0,
    Recovered: 1,
    NotRecovered: 2,
};
export const PushFlags = {
    Ephemeral: 1n,
};
export function isEphemeral(f) {
    return ((f.flags ?? 0n) & PushFlags.Ephemeral) !== 0n;
}
export class WireError extends Error {
    kind;
    constructor(kind, message) {
        super(`quicpush wire: ${message}`);
        this.name = "WireError";
        this.kind = kind;
    }
}
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const MAX_U64 = (1n << 64n) - 1n;
export function isKnownOp(op) {
    return op >= Op.Auth && op <= Op.PresenceOK;
}
class Writer {
    buf;
    n = 0;
    constructor(size) {
        this.buf = new Uint8Array(size);
    }
    room(k) {
        if (this.n + k <= this.buf.length)
            return;
        const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
        next.set(this.buf.subarray(0, this.n));
        this.buf = next;
    }
    u8(v) {
        this.room(1);
        this.buf[this.n++] = v & 0xff;
    }
    u16(v) {
        this.room(2);
        this.buf[this.n++] = (v >>> 8) & 0xff;
        this.buf[this.n++] = v & 0xff;
    }
    u32(v) {
        this.room(4);
        this.buf[this.n++] = (v >>> 24) & 0xff;
        this.buf[this.n++] = (v >>> 16) & 0xff;
        this.buf[this.n++] = (v >>> 8) & 0xff;
        this.buf[this.n++] = v & 0xff;
    }
    uvarint(v) {
        this.room(10);
        if (typeof v === "number") {
            checkUint(v, Number.MAX_SAFE_INTEGER, "uvarint");
            while (v >= 0x80) {
                this.buf[this.n++] = (v % 0x80) | 0x80;
                v = Math.floor(v / 0x80);
            }
            this.buf[this.n++] = v;
            return;
        }
        if (v < 0n || v > MAX_U64)
            throw new RangeError(`uvarint ${v} is outside 0..2^64-1`);
        while (v >= 0x80n) {
            this.buf[this.n++] = Number(v & 0x7fn) | 0x80;
            v >>= 7n;
        }
        this.buf[this.n++] = Number(v);
    }
    bytes(b) {
        this.uvarint(b.length);
        this.room(b.length);
        this.buf.set(b, this.n);
        this.n += b.length;
    }
    str(s) {
        this.bytes(utf8Encoder.encode(s));
    }
    members(ms) {
        this.uvarint(ms.length);
        for (const m of ms) {
            this.str(m.user);
            this.str(m.connKey);
            this.bytes(m.info);
        }
    }
    position(recovery, offset, epoch, whole = false) {
        if (!whole && recovery === Recovery.None && offset === 0n && epoch === "")
            return;
        checkUint(recovery, 0xff, "recovery");
        this.u8(recovery);
        this.uvarint(offset);
        this.str(epoch);
    }
    done() {
        const len = this.n - 4;
        this.buf[0] = (len >>> 24) & 0xff;
        this.buf[1] = (len >>> 16) & 0xff;
        this.buf[2] = (len >>> 8) & 0xff;
        this.buf[3] = len & 0xff;
        return this.buf.subarray(0, this.n);
    }
}
function checkUint(v, max, what) {
    if (!Number.isInteger(v) || v < 0 || v > max) {
        throw new RangeError(`${what} ${v} is not an integer in 0..${max}`);
    }
}
export function encodeFrame(f) {
    checkUint(f.seq, 0xffffffff, "seq");
    const w = new Writer(64);
    w.u32(0);
    w.u8(f.op);
    w.u32(f.seq);
    switch (f.op) {
        case Op.Auth:
            w.uvarint(f.version);
            w.str(f.token);
            {
                const joins = f.joins ?? 0;
                if (f.offset !== 0n || f.epoch !== "" || joins !== 0) {
                    w.uvarint(f.offset);
                    w.str(f.epoch);
                }
                if (joins !== 0)
                    w.uvarint(joins);
            }
            break;
        case Op.AuthOK: {
            w.str(f.connKey);
            w.str(f.user);
            w.uvarint(f.pingIntervalMs);
            w.uvarint(f.maxFrame);
            const revision = f.revision ?? 0;
            w.position(f.recovery, f.offset, f.epoch, revision !== 0);
            if (revision !== 0)
                w.uvarint(revision);
            break;
        }
        case Op.Ping:
        case Op.Pong:
            break;
        case Op.Join:
            w.str(f.room);
            w.uvarint(f.offset);
            w.str(f.epoch);
            break;
        case Op.JoinOK:
        case Op.Subscribed:
            w.str(f.room);
            w.position(f.recovery, f.offset, f.epoch);
            break;
        case Op.Leave:
        case Op.LeaveOK:
        case Op.Unsubscribed:
        case Op.PresenceGet:
            w.str(f.room);
            break;
        case Op.JoinLeave:
            w.str(f.room);
            w.members(f.joined);
            w.members(f.left);
            w.uvarint(f.omitted);
            break;
        case Op.PresenceOK:
            w.str(f.room);
            w.uvarint(f.conns);
            w.uvarint(f.users);
            w.u8(f.complete ? 1 : 0);
            w.members(f.members);
            break;
        case Op.Push:
            w.u8(f.kind);
            w.str(f.room);
            w.str(f.id);
            w.uvarint(f.offset);
            w.str(f.epoch);
            w.bytes(f.data);
            if (f.flags !== undefined && f.flags !== 0n)
                w.uvarint(f.flags);
            break;
        case Op.Error:
            checkUint(f.code, 0xffff, "code");
            w.u16(f.code);
            w.str(f.message);
            break;
        case Op.Disconnect:
            checkUint(f.code, 0xffff, "code");
            w.u16(f.code);
            w.str(f.reason);
            break;
        case Op.TokenExpiring:
        case Op.RefreshOK:
            w.uvarint(f.expiresInMs);
            break;
        case Op.Refresh:
            w.str(f.token);
            break;
        default: {
            const unknown = f;
            throw new TypeError(`unknown op ${unknown.op}`);
        }
    }
    return w.done();
}
class Reader {
    b;
    what;
    pos = 0;
    constructor(b, what) {
        this.b = b;
        this.what = what;
    }
    fail(field) {
        throw new WireError("malformed", `${this.what}: truncated or invalid ${field}`);
    }
    u8() {
        const v = this.b[this.pos];
        if (v === undefined)
            this.fail("u8");
        this.pos++;
        return v;
    }
    u16() {
        if (this.pos + 2 > this.b.length)
            this.fail("u16");
        const v = (this.b[this.pos] << 8) | this.b[this.pos + 1];
        this.pos += 2;
        return v;
    }
    uvarint() {
        const b = this.b;
        const start = this.pos;
        let end = start;
        for (;;) {
            const c = b[end];
            if (c === undefined)
                this.fail("uvarint");
            if (end - start === 9 && c > 1)
                this.fail("uvarint (overflows 64 bits)");
            end++;
            if (c < 0x80)
                break;
            if (end - start === 10)
                this.fail("uvarint (longer than 10 bytes)");
        }
        this.pos = end;
        if (end - start <= 7) {
            let v = 0;
            for (let i = end - 1; i >= start; i--)
                v = v * 0x80 + (b[i] & 0x7f);
            return v;
        }
        let v = 0n;
        for (let i = end - 1; i >= start; i--)
            v = (v << 7n) | BigInt(b[i] & 0x7f);
        return v;
    }
    bigUvarint() {
        const v = this.uvarint();
        return typeof v === "bigint" ? v : BigInt(v);
    }
    numUvarint() {
        return Number(this.uvarint());
    }
    bytes(limit, field) {
        const n = this.uvarint();
        if (typeof n !== "number" || n > this.b.length - this.pos || n > limit)
            this.fail(`${field} length`);
        const v = this.b.subarray(this.pos, this.pos + n);
        this.pos += n;
        return v;
    }
    str(limit, field) {
        return utf8Decoder.decode(this.bytes(limit, field));
    }
    members() {
        const n = this.uvarint();
        if (typeof n !== "number" || n > Math.floor((this.b.length - this.pos) / 3))
            this.fail("member count");
        const out = new Array(n);
        for (let i = 0; i < n; i++) {
            const user = this.str(MAX_ROOM_LEN, "member user");
            const connKey = this.str(MAX_ROOM_LEN, "member conn_key");
            out[i] = { user, connKey, info: this.bytes(MAX_INFO_LEN, "member info") };
        }
        return out;
    }
    more() {
        return this.pos < this.b.length;
    }
    position() {
        if (!this.more())
            return { recovery: Recovery.None, offset: 0n, epoch: "" };
        const recovery = this.u8();
        const offset = this.bigUvarint();
        const epoch = this.str(MAX_ROOM_LEN, "epoch");
        if (recovery > Recovery.NotRecovered)
            throw new WireError("malformed", `${this.what}: recovery ${recovery}`);
        return { recovery: recovery, offset, epoch };
    }
}
export function decodeBody(op, seq, body) {
    switch (op) {
        case Op.Auth: {
            const r = new Reader(body, "auth");
            const version = r.numUvarint();
            const token = r.str(MAX_TOKEN_LEN, "token");
            let offset = 0n;
            let epoch = "";
            if (r.more()) {
                offset = r.bigUvarint();
                epoch = r.str(MAX_ROOM_LEN, "epoch");
            }
            const joins = r.more() ? r.numUvarint() : 0;
            return { op, seq, version, token, offset, epoch, joins };
        }
        case Op.AuthOK: {
            const r = new Reader(body, "auth_ok");
            const connKey = r.str(MAX_ROOM_LEN, "conn_key");
            const user = r.str(MAX_ROOM_LEN, "user");
            const pingIntervalMs = r.numUvarint();
            const maxFrame = r.numUvarint();
            const position = r.position();
            const revision = r.more() ? r.numUvarint() : 0;
            return { op, seq, connKey, user, pingIntervalMs, maxFrame, ...position, revision };
        }
        case Op.Ping:
        case Op.Pong:
            return { op, seq };
        case Op.Join: {
            const r = new Reader(body, "join");
            const room = r.str(MAX_ROOM_LEN, "room");
            const offset = r.bigUvarint();
            return { op, seq, room, offset, epoch: r.str(MAX_ROOM_LEN, "epoch") };
        }
        case Op.JoinOK: {
            const r = new Reader(body, "join_ok");
            const room = r.str(MAX_ROOM_LEN, "room");
            return { op, seq, room, ...r.position() };
        }
        case Op.Leave:
        case Op.LeaveOK:
        case Op.Unsubscribed:
        case Op.PresenceGet:
            return { op, seq, room: new Reader(body, "room").str(MAX_ROOM_LEN, "room") };
        case Op.Subscribed: {
            const r = new Reader(body, "subscribed");
            const room = r.str(MAX_ROOM_LEN, "room");
            return { op, seq, room, ...r.position() };
        }
        case Op.JoinLeave: {
            const r = new Reader(body, "join_leave");
            const room = r.str(MAX_ROOM_LEN, "room");
            const joined = r.members();
            const left = r.members();
            return { op, seq, room, joined, left, omitted: r.numUvarint() };
        }
        case Op.PresenceOK: {
            const r = new Reader(body, "presence_ok");
            const room = r.str(MAX_ROOM_LEN, "room");
            const conns = r.numUvarint();
            const users = r.numUvarint();
            const complete = r.u8();
            if (complete > 1)
                throw new WireError("malformed", `presence_ok: complete ${complete}`);
            return { op, seq, room, conns, users, complete: complete === 1, members: r.members() };
        }
        case Op.Push: {
            const r = new Reader(body, "push");
            const kind = r.u8();
            const room = r.str(MAX_ROOM_LEN, "room");
            const id = r.str(MAX_ROOM_LEN, "id");
            const offset = r.bigUvarint();
            const epoch = r.str(MAX_ROOM_LEN, "epoch");
            const data = r.bytes(body.length, "data");
            const flags = r.more() ? r.bigUvarint() : 0n;
            if (kind > PushKind.Broadcast)
                throw new WireError("malformed", `push: kind ${kind}`);
            return { op, seq, kind: kind, room, id, offset, epoch, data, flags };
        }
        case Op.Error: {
            const r = new Reader(body, "error");
            const code = r.u16();
            return { op, seq, code, message: r.str(body.length, "message") };
        }
        case Op.Disconnect: {
            const r = new Reader(body, "disconnect");
            const code = r.u16();
            return { op, seq, code, reason: r.str(body.length, "reason") };
        }
        case Op.TokenExpiring:
            return { op, seq, expiresInMs: new Reader(body, "token_expiring").numUvarint() };
        case Op.Refresh:
            return { op, seq, token: new Reader(body, "refresh").str(MAX_TOKEN_LEN, "token") };
        case Op.RefreshOK:
            return { op, seq, expiresInMs: new Reader(body, "refresh_ok").numUvarint() };
        default:
            return undefined;
    }
}
export function parseHeader(b, maxFrame = DEFAULT_MAX_FRAME) {
    if (b.length < HEADER_SIZE)
        throw new WireError("malformed", `short header (${b.length} bytes)`);
    const n = b[0] * 0x1000000 + ((b[1] << 16) | (b[2] << 8) | b[3]);
    if (n < HEADER_SIZE - 4)
        throw new WireError("malformed", `length ${n} below header size`);
    if (n + 4 > maxFrame)
        throw new WireError("too_large", `${n + 4} bytes, limit ${maxFrame}`);
    const seq = b[5] * 0x1000000 + ((b[6] << 16) | (b[7] << 8) | b[8]);
    return { op: b[4], seq, bodyLength: n - (HEADER_SIZE - 4) };
}
export function decodeFrame(b, maxFrame = DEFAULT_MAX_FRAME) {
    const h = parseHeader(b, maxFrame);
    const size = HEADER_SIZE + h.bodyLength;
    if (b.length !== size) {
        throw new WireError("malformed", `frame of ${size} bytes in ${b.length} bytes`);
    }
    const f = decodeBody(h.op, h.seq, b.subarray(HEADER_SIZE));
    if (f === undefined)
        throw new WireError("malformed", `unknown op ${h.op}`);
    return f;
}
export function decodeDatagram(b, maxFrame = DEFAULT_MAX_FRAME) {
    const f = decodeFrame(b, maxFrame);
    if (f.op !== Op.Push)
        throw new WireError("malformed", `datagram: op ${f.op}, want push`);
    if (!isEphemeral(f))
        throw new WireError("malformed", "datagram: a reliable push");
    return f;
}
export function splitFrames(message, maxFrame = DEFAULT_MAX_FRAME) {
    const out = [];
    let pos = 0;
    while (pos < message.length) {
        const rest = message.subarray(pos);
        if (rest.length < HEADER_SIZE) {
            throw new WireError("malformed", `message ends ${rest.length} bytes into a header`);
        }
        const h = parseHeader(rest, maxFrame);
        const size = HEADER_SIZE + h.bodyLength;
        if (rest.length < size)
            throw new WireError("malformed", "message ends inside a frame");
        out.push({ op: h.op, seq: h.seq, body: rest.subarray(HEADER_SIZE, size) });
        pos += size;
    }
    return out;
}
export class FrameDecoder {
    maxFrame;
    hdr = new Uint8Array(HEADER_SIZE);
    hdrLen = 0;
    header = null;
    body = null;
    bodyLen = 0;
    error = null;
    constructor(maxFrame = DEFAULT_MAX_FRAME) {
        this.maxFrame = maxFrame;
    }
    get pending() {
        return this.hdrLen + this.bodyLen;
    }
    push(chunk) {
        if (this.error !== null)
            throw this.error;
        const out = [];
        try {
            this.parse(chunk, out);
        }
        catch (e) {
            this.error = e;
            if (out.length === 0)
                throw e;
        }
        return out;
    }
    parse(chunk, out) {
        let pos = 0;
        if (this.hdrLen > 0) {
            if (this.header === null) {
                const k = Math.min(HEADER_SIZE - this.hdrLen, chunk.length);
                this.hdr.set(chunk.subarray(0, k), this.hdrLen);
                this.hdrLen += k;
                pos = k;
                if (this.hdrLen < HEADER_SIZE)
                    return;
                this.header = parseHeader(this.hdr, this.maxFrame);
                this.body = new Uint8Array(this.header.bodyLength);
                this.bodyLen = 0;
            }
            const body = this.body;
            const k = Math.min(body.length - this.bodyLen, chunk.length - pos);
            body.set(chunk.subarray(pos, pos + k), this.bodyLen);
            this.bodyLen += k;
            pos += k;
            if (this.bodyLen < body.length)
                return;
            out.push({ op: this.header.op, seq: this.header.seq, body });
            this.hdrLen = 0;
            this.header = null;
            this.body = null;
            this.bodyLen = 0;
        }
        while (chunk.length - pos >= HEADER_SIZE) {
            const h = parseHeader(chunk.subarray(pos), this.maxFrame);
            const size = HEADER_SIZE + h.bodyLength;
            if (chunk.length - pos < size) {
                this.hdr.set(chunk.subarray(pos, pos + HEADER_SIZE));
                this.hdrLen = HEADER_SIZE;
                this.header = h;
                this.body = new Uint8Array(h.bodyLength);
                this.body.set(chunk.subarray(pos + HEADER_SIZE));
                this.bodyLen = chunk.length - pos - HEADER_SIZE;
                return;
            }
            out.push({ op: h.op, seq: h.seq, body: chunk.subarray(pos + HEADER_SIZE, pos + size) });
            pos += size;
        }
        if (pos < chunk.length) {
            this.hdr.set(chunk.subarray(pos));
            this.hdrLen = chunk.length - pos;
        }
        return;
    }
}
