/**
 * The quicpush wire codec, protocol version 1 revision 5 (docs/protocol.md):
 * frame encoding and decoding, and a {@link FrameDecoder} for byte streams.
 * It mirrors the Go package `wire` and passes every vector of
 * docs/protocol-vectors.json.
 *
 * A frame is a 9-byte header (u32 length, u8 op, u32 seq, big endian) and a
 * body whose fields depend on the op. `length` counts op, seq and body.
 *
 * Revision 2 appends a position group to Auth (`offset`, `epoch`), AuthOK and
 * JoinOK (`recovery`, `offset`, `epoch`): the encoder leaves a group out when
 * all its fields are zero, the decoder reads zeros when the body ends before
 * it, and a group that starts must be whole.
 *
 * Revision 3 adds token refresh: TokenExpiring (server → client, seq 0),
 * Refresh (client → server, a request) and RefreshOK (its reply). The server
 * speaks first, so a client only sends Refresh after a TokenExpiring.
 *
 * Revision 4 appends optional `flags` to Push (bit 0: ephemeral), left out
 * when zero, and sends ephemeral pushes in WebTransport datagrams, one whole
 * Push frame each ({@link decodeDatagram}).
 *
 * Revision 5 appends `joins` to Auth and `revision` to AuthOK, after the
 * position group, which a sender then writes in full (as zeros if need be);
 * a receiver reads 0 when the body ends before them. It adds Subscribed,
 * Unsubscribed and JoinLeave (server → client, seq 0), and PresenceGet, a
 * request a client sends only to an edge whose AuthOK announced revision 5,
 * answered by PresenceOK. JoinLeave and PresenceOK carry member lists.
 *
 * @module
 */

/** The protocol version sent in Auth. */
export const VERSION = 1;
/**
 * The revision of version 1 this codec speaks: 2 added stream positions and
 * resume, 3 token refresh (TokenExpiring, Refresh, RefreshOK), 4 ephemeral
 * pushes (Push flags, datagrams), 5 server-side rooms (Subscribed,
 * Unsubscribed, Auth's `joins`), join and leave notices (JoinLeave), presence
 * for clients (PresenceGet, PresenceOK) and the edge's revision in AuthOK.
 */
export const REVISION = 5;
/** The WebSocket subprotocol of this version. */
export const WEBSOCKET_PROTOCOL = "quicpush.v1";
/** The QUIC ALPN of raw QUIC connections (not usable from browsers). */
export const ALPN = "quicpush/1";
/** Size of a frame header: length (4), op (1), seq (4). */
export const HEADER_SIZE = 9;
/** The largest frame, header included, either side must accept by default. */
export const DEFAULT_MAX_FRAME = 65536;
/** The longest room name, and the longest id, epoch, conn_key and user, in bytes. */
export const MAX_ROOM_LEN = 255;
/** The longest token in bytes. */
export const MAX_TOKEN_LEN = 8192;
/**
 * The largest frame an edge reads before AuthOK: the largest well-formed Auth
 * (a 10-byte version, the longest token, a 10-byte offset, the longest epoch,
 * a 10-byte revision-5 `joins`).
 */
export const MAX_AUTH_FRAME = 8490;
/** The longest member info (revision 5), in bytes: a JSON object of at most 1 KiB. */
export const MAX_INFO_LEN = 1024;

/** Operation codes of version 1. */
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
  /** Revision 3: server → client, the token expires soon; answer with Refresh. */
  TokenExpiring: 0x0c,
  /** Revision 3: client → server, a fresh token for the connection. */
  Refresh: 0x0d,
  /** Revision 3: server → client, the answer to Refresh. */
  RefreshOK: 0x0e,
  /** Revision 5: server → client, the backend put the connection in a room. */
  Subscribed: 0x0f,
  /** Revision 5: server → client, the backend took the connection out of a room. */
  Unsubscribed: 0x10,
  /** Revision 5: server → client, who joined and left a room since the last notice. */
  JoinLeave: 0x11,
  /** Revision 5: client → server (an edge of revision 5 or later), who is in a room. */
  PresenceGet: 0x12,
  /** Revision 5: server → client, the answer to PresenceGet. */
  PresenceOK: 0x13,
} as const;
/** An operation code defined by version 1. */
export type Op = (typeof Op)[keyof typeof Op];

/** How a pushed message was addressed. */
export const PushKind = {
  /** To this connection's key or user. */
  Direct: 0,
  /** To a room the connection joined. */
  Room: 1,
  /** To every connection. */
  Broadcast: 2,
} as const;
/** A push kind defined by version 1. */
export type PushKind = (typeof PushKind)[keyof typeof PushKind];

/**
 * What became of a request to resume a stream (revision 2), in AuthOK for the
 * user's stream and in JoinOK for a room's (protocol section 11).
 */
export const Recovery = {
  /**
   * No position was sent, or the stream keeps no history: the reply's
   * position is where the client now stands.
   */
  None: 0,
  /**
   * Every message after the client's position follows the reply, in order,
   * then live ones: no gap, no repeat.
   */
  Recovered: 1,
  /**
   * The messages after the client's position are gone: none is replayed, and
   * live ones newer than the reply's position follow.
   */
  NotRecovered: 2,
} as const;
/** A recovery result defined by revision 2. */
export type Recovery = (typeof Recovery)[keyof typeof Recovery];

/**
 * Client → server: the first frame, with the token and (revision 2) the last
 * position seen in the user's stream, 0n and "" for none.
 */
export interface AuthFrame {
  op: typeof Op.Auth;
  seq: number;
  version: number;
  token: string;
  offset: bigint;
  epoch: string;
  /**
   * Revision 5: how many Joins the client sends right after Auth, before any
   * other frame (the rooms it rejoins, server-side ones included). Decoding
   * always sets it (0 when absent); encoding leaves 0 or undefined out.
   */
  joins?: number;
}
/**
 * Server → client: the answer to Auth. `recovery`, `offset` and `epoch`
 * (revision 2) answer Auth's position for the user's stream: the result, and
 * the stream's position when the edge read it (zeros from an older edge).
 */
export interface AuthOKFrame {
  op: typeof Op.AuthOK;
  seq: number;
  connKey: string;
  user: string;
  pingIntervalMs: number;
  maxFrame: number;
  recovery: Recovery;
  offset: bigint;
  epoch: string;
  /**
   * Revision 5: the protocol revision the edge speaks; 0 from earlier edges,
   * to which a client sends no op of a later revision (PresenceGet). Decoding
   * always sets it (0 when absent); encoding leaves 0 or undefined out.
   */
  revision?: number;
}
/** Heartbeat request or reply; no fields. */
export interface PingPongFrame {
  op: typeof Op.Ping | typeof Op.Pong;
  seq: number;
}
/** Client → server: join a room, from a stream position (0 and "" for none). */
export interface JoinFrame {
  op: typeof Op.Join;
  seq: number;
  room: string;
  offset: bigint;
  epoch: string;
}
/**
 * Server → client: the answer to Join. `recovery`, `offset` and `epoch`
 * (revision 2) answer Join's position: the result, and the room stream's
 * position when the edge read it (zeros from an older edge).
 */
export interface JoinOKFrame {
  op: typeof Op.JoinOK;
  seq: number;
  room: string;
  recovery: Recovery;
  offset: bigint;
  epoch: string;
}
/**
 * Leave and LeaveOK; Unsubscribed (revision 5, server → client, seq 0) and
 * PresenceGet (revision 5, a request): a room name.
 */
export interface RoomFrame {
  op: typeof Op.Leave | typeof Op.LeaveOK | typeof Op.Unsubscribed | typeof Op.PresenceGet;
  seq: number;
  room: string;
}
/**
 * Server → client (revision 5): the application's backend put the connection
 * in `room`. The position group is JoinOK's for a Join without a position:
 * the room stream's position when the edge entered the room (`recovery` 0),
 * all zero when the room keeps no history or the connection was in it
 * already. Seq is 0.
 */
export interface SubscribedFrame {
  op: typeof Op.Subscribed;
  seq: number;
  room: string;
  recovery: Recovery;
  offset: bigint;
  epoch: string;
}
/** One connection in a room (revision 5): an entry of JoinLeave and PresenceOK. */
export interface Member {
  user: string;
  connKey: string;
  /**
   * The JSON object the connection's token or the application's backend
   * attached to it, as UTF-8 bytes (at most {@link MAX_INFO_LEN}); empty for
   * none. Decoded members alias the frame's body.
   */
  info: Uint8Array;
}
/**
 * Server → client (revision 5): the connections that joined and left `room`
 * since the previous notice; `omitted` counts the joins and leaves left out
 * of the two lists. Seq is 0.
 */
export interface JoinLeaveFrame {
  op: typeof Op.JoinLeave;
  seq: number;
  room: string;
  joined: Member[];
  left: Member[];
  omitted: number;
}
/**
 * Server → client (revision 5): the answer to PresenceGet. `conns` and
 * `users` count the room's connections and distinct users across the
 * cluster; `complete` says `members` lists every connection.
 */
export interface PresenceOKFrame {
  op: typeof Op.PresenceOK;
  seq: number;
  room: string;
  conns: number;
  users: number;
  complete: boolean;
  members: Member[];
}
/** Push flags (revision 4), bits of {@link PushFrame.flags}. */
export const PushFlags = {
  /**
   * Superseded state: no position, never replayed, may be dropped, may
   * overtake reliable pushes, may come in a datagram.
   */
  Ephemeral: 1n,
} as const;

/** Server → client: a message. Seq is 0. */
export interface PushFrame {
  op: typeof Op.Push;
  seq: number;
  kind: PushKind;
  room: string;
  id: string;
  offset: bigint;
  epoch: string;
  data: Uint8Array;
  /**
   * Revision 4 flags ({@link PushFlags}); unknown bits are kept. Decoding
   * always sets it (0n when absent); encoding leaves 0n or undefined out.
   */
  flags?: bigint;
}

/** Whether a push carries {@link PushFlags.Ephemeral}. */
export function isEphemeral(f: PushFrame): boolean {
  return ((f.flags ?? 0n) & PushFlags.Ephemeral) !== 0n;
}
/** Server → client: a request failed; the connection stays. */
export interface ErrorFrame {
  op: typeof Op.Error;
  seq: number;
  code: number;
  message: string;
}
/** Server → client: the last frame before the server closes. Seq is 0. */
export interface DisconnectFrame {
  op: typeof Op.Disconnect;
  seq: number;
  code: number;
  reason: string;
}
/**
 * Server → client (revision 3): the connection's token expires in
 * `expiresInMs` milliseconds; answer with {@link RefreshFrame}. Seq is 0.
 */
export interface TokenExpiringFrame {
  op: typeof Op.TokenExpiring;
  seq: number;
  expiresInMs: number;
}
/**
 * Client → server (revision 3): a fresh token of the same user for the live
 * connection, at most 8192 bytes. Sent only after a TokenExpiring.
 */
export interface RefreshFrame {
  op: typeof Op.Refresh;
  seq: number;
  token: string;
}
/**
 * Server → client (revision 3): the answer to Refresh; the fresh token is in
 * force and expires in `expiresInMs` milliseconds (0: no expiry).
 */
export interface RefreshOKFrame {
  op: typeof Op.RefreshOK;
  seq: number;
  expiresInMs: number;
}
/** Any decoded frame of version 1, discriminated by `op`. */
export type Frame =
  | AuthFrame
  | AuthOKFrame
  | PingPongFrame
  | JoinFrame
  | JoinOKFrame
  | RoomFrame
  | PushFrame
  | ErrorFrame
  | DisconnectFrame
  | TokenExpiringFrame
  | RefreshFrame
  | RefreshOKFrame
  | SubscribedFrame
  | JoinLeaveFrame
  | PresenceOKFrame;

/** A frame split off a stream or message but not decoded: any op, raw body. */
export interface RawFrame {
  op: number;
  seq: number;
  body: Uint8Array;
}

/** A decoded frame header. */
export interface Header {
  op: number;
  seq: number;
  /** Body length in bytes (the wire length minus 5). */
  bodyLength: number;
}

/** Why a frame was rejected: it does not decode, or it is over the limit. */
export type WireErrorKind = "malformed" | "too_large";

/**
 * A frame that cannot be decoded. `kind` tells a malformed frame (3501 on an
 * edge) from one over the size limit (3502).
 */
export class WireError extends Error {
  readonly kind: WireErrorKind;
  constructor(kind: WireErrorKind, message: string) {
    super(`quicpush wire: ${message}`);
    this.name = "WireError";
    this.kind = kind;
  }
}

const utf8Encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF as Go does; version 1 does not validate
// UTF-8, so invalid bytes become U+FFFD rather than an error.
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });

const MAX_U64 = (1n << 64n) - 1n;

/** Reports whether `op` is defined by version 1 (up to revision 5). */
export function isKnownOp(op: number): op is Op {
  return op >= Op.Auth && op <= Op.PresenceOK;
}

// ---------------------------------------------------------------- encoding

/** Appends fields to a growing buffer. */
class Writer {
  buf: Uint8Array;
  n = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }
  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.n++] = v & 0xff;
  }
  u16(v: number): void {
    this.room(2);
    this.buf[this.n++] = (v >>> 8) & 0xff;
    this.buf[this.n++] = v & 0xff;
  }
  u32(v: number): void {
    this.room(4);
    this.buf[this.n++] = (v >>> 24) & 0xff;
    this.buf[this.n++] = (v >>> 16) & 0xff;
    this.buf[this.n++] = (v >>> 8) & 0xff;
    this.buf[this.n++] = v & 0xff;
  }
  uvarint(v: number | bigint): void {
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
    if (v < 0n || v > MAX_U64) throw new RangeError(`uvarint ${v} is outside 0..2^64-1`);
    while (v >= 0x80n) {
      this.buf[this.n++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.n++] = Number(v);
  }
  bytes(b: Uint8Array): void {
    this.uvarint(b.length);
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }
  str(s: string): void {
    this.bytes(utf8Encoder.encode(s));
  }
  /** A revision-5 member list. */
  members(ms: Member[]): void {
    this.uvarint(ms.length);
    for (const m of ms) {
      this.str(m.user);
      this.str(m.connKey);
      this.bytes(m.info);
    }
  }
  /**
   * The revision-2 group of AuthOK, JoinOK and Subscribed, left out when all
   * zero unless `whole` (a field follows it).
   */
  position(recovery: Recovery, offset: bigint, epoch: string, whole = false): void {
    if (!whole && recovery === Recovery.None && offset === 0n && epoch === "") return;
    checkUint(recovery, 0xff, "recovery");
    this.u8(recovery);
    this.uvarint(offset);
    this.str(epoch);
  }
  done(): Uint8Array {
    const len = this.n - 4;
    this.buf[0] = (len >>> 24) & 0xff;
    this.buf[1] = (len >>> 16) & 0xff;
    this.buf[2] = (len >>> 8) & 0xff;
    this.buf[3] = len & 0xff;
    return this.buf.subarray(0, this.n);
  }
}

function checkUint(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new RangeError(`${what} ${v} is not an integer in 0..${max}`);
  }
}

/**
 * Encodes a whole frame, header included. It writes what it is given: limits
 * on string lengths are checked by the receiver (and by the client before it
 * sends), not here. Throws RangeError for a seq, code or number out of range.
 */
export function encodeFrame(f: Frame): Uint8Array {
  checkUint(f.seq, 0xffffffff, "seq");
  const w = new Writer(64);
  w.u32(0); // length, patched by done
  w.u8(f.op);
  w.u32(f.seq);
  switch (f.op) {
    case Op.Auth:
      w.uvarint(f.version);
      w.str(f.token);
      {
        const joins = f.joins ?? 0;
        // A field after the position group needs the group written in full.
        if (f.offset !== 0n || f.epoch !== "" || joins !== 0) {
          w.uvarint(f.offset);
          w.str(f.epoch);
        }
        if (joins !== 0) w.uvarint(joins);
      }
      break;
    case Op.AuthOK: {
      w.str(f.connKey);
      w.str(f.user);
      w.uvarint(f.pingIntervalMs);
      w.uvarint(f.maxFrame);
      const revision = f.revision ?? 0;
      w.position(f.recovery, f.offset, f.epoch, revision !== 0);
      if (revision !== 0) w.uvarint(revision);
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
      if (f.flags !== undefined && f.flags !== 0n) w.uvarint(f.flags);
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
      const unknown: never = f;
      throw new TypeError(`unknown op ${(unknown as { op: number }).op}`);
    }
  }
  return w.done();
}

// ---------------------------------------------------------------- decoding

/** Reads fields in order; every failure is a malformed frame. */
class Reader {
  private pos = 0;
  constructor(
    private readonly b: Uint8Array,
    private readonly what: string,
  ) {}

  private fail(field: string): never {
    throw new WireError("malformed", `${this.what}: truncated or invalid ${field}`);
  }
  u8(): number {
    const v = this.b[this.pos];
    if (v === undefined) this.fail("u8");
    this.pos++;
    return v;
  }
  u16(): number {
    if (this.pos + 2 > this.b.length) this.fail("u16");
    const v = (this.b[this.pos]! << 8) | this.b[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  /**
   * An unsigned LEB128 value as Go's binary.Uvarint reads it: non-minimal
   * forms are accepted, more than 10 bytes or a 10th byte above 1 are not.
   * Values of up to 7 bytes (49 bits) come back as numbers, longer ones as
   * bigints.
   */
  uvarint(): number | bigint {
    const b = this.b;
    const start = this.pos;
    let end = start;
    for (;;) {
      const c = b[end];
      if (c === undefined) this.fail("uvarint");
      if (end - start === 9 && c > 1) this.fail("uvarint (overflows 64 bits)");
      end++;
      if (c < 0x80) break;
      if (end - start === 10) this.fail("uvarint (longer than 10 bytes)");
    }
    this.pos = end;
    if (end - start <= 7) {
      let v = 0;
      for (let i = end - 1; i >= start; i--) v = v * 0x80 + (b[i]! & 0x7f);
      return v;
    }
    let v = 0n;
    for (let i = end - 1; i >= start; i--) v = (v << 7n) | BigInt(b[i]! & 0x7f);
    return v;
  }
  bigUvarint(): bigint {
    const v = this.uvarint();
    return typeof v === "bigint" ? v : BigInt(v);
  }
  /** A uvarint as a number; values past 2^53 lose precision. */
  numUvarint(): number {
    return Number(this.uvarint());
  }
  bytes(limit: number, field: string): Uint8Array {
    const n = this.uvarint();
    if (typeof n !== "number" || n > this.b.length - this.pos || n > limit) this.fail(`${field} length`);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  str(limit: number, field: string): string {
    return utf8Decoder.decode(this.bytes(limit, field));
  }
  /**
   * A revision-5 member list. A member takes at least 3 bytes, so a count
   * larger than a third of the bytes left is refused before anything is
   * allocated: a forged count cannot make the decoder reserve memory it was
   * not sent. Infos alias the body.
   */
  members(): Member[] {
    const n = this.uvarint();
    if (typeof n !== "number" || n > Math.floor((this.b.length - this.pos) / 3)) this.fail("member count");
    const out = new Array<Member>(n);
    for (let i = 0; i < n; i++) {
      const user = this.str(MAX_ROOM_LEN, "member user");
      const connKey = this.str(MAX_ROOM_LEN, "member conn_key");
      out[i] = { user, connKey, info: this.bytes(MAX_INFO_LEN, "member info") };
    }
    return out;
  }
  /** Whether bytes are left: an optional group follows. */
  more(): boolean {
    return this.pos < this.b.length;
  }
  /**
   * The optional revision-2 group of AuthOK, JoinOK and Subscribed: zeros when the body
   * ends before it; a group that starts must be whole, with a known recovery.
   */
  position(): { recovery: Recovery; offset: bigint; epoch: string } {
    if (!this.more()) return { recovery: Recovery.None, offset: 0n, epoch: "" };
    const recovery = this.u8();
    const offset = this.bigUvarint();
    const epoch = this.str(MAX_ROOM_LEN, "epoch");
    if (recovery > Recovery.NotRecovered) throw new WireError("malformed", `${this.what}: recovery ${recovery}`);
    return { recovery: recovery as Recovery, offset, epoch };
  }
}

/**
 * Decodes the body of a frame with a known op. Bytes after the last field are
 * ignored (later revisions may append fields). Returns undefined for an op
 * version 1 does not define, which a client skips. Push `data` aliases `body`.
 * Throws {@link WireError} for a malformed body.
 */
export function decodeBody(op: number, seq: number, body: Uint8Array): Frame | undefined {
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
      if (complete > 1) throw new WireError("malformed", `presence_ok: complete ${complete}`);
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
      if (kind > PushKind.Broadcast) throw new WireError("malformed", `push: kind ${kind}`);
      return { op, seq, kind: kind as PushKind, room, id, offset, epoch, data, flags };
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

/**
 * Decodes a frame header from the first 9 bytes of `b` and checks the whole
 * frame's size against `maxFrame` (header included), so a frame over the
 * limit is refused before its body arrives. The op is not checked.
 */
export function parseHeader(b: Uint8Array, maxFrame: number = DEFAULT_MAX_FRAME): Header {
  if (b.length < HEADER_SIZE) throw new WireError("malformed", `short header (${b.length} bytes)`);
  // Multiplying the top byte keeps the length unsigned: ffffffff is too
  // large, not -1.
  const n = b[0]! * 0x1000000 + ((b[1]! << 16) | (b[2]! << 8) | b[3]!);
  if (n < HEADER_SIZE - 4) throw new WireError("malformed", `length ${n} below header size`);
  if (n + 4 > maxFrame) throw new WireError("too_large", `${n + 4} bytes, limit ${maxFrame}`);
  const seq = b[5]! * 0x1000000 + ((b[6]! << 16) | (b[7]! << 8) | b[8]!);
  return { op: b[4]!, seq, bodyLength: n - (HEADER_SIZE - 4) };
}

/**
 * Decodes exactly one whole frame. Throws {@link WireError} when it is
 * malformed, over `maxFrame`, of an unknown op, or followed by other bytes.
 */
export function decodeFrame(b: Uint8Array, maxFrame: number = DEFAULT_MAX_FRAME): Frame {
  const h = parseHeader(b, maxFrame);
  const size = HEADER_SIZE + h.bodyLength;
  if (b.length !== size) {
    throw new WireError("malformed", `frame of ${size} bytes in ${b.length} bytes`);
  }
  const f = decodeBody(h.op, h.seq, b.subarray(HEADER_SIZE));
  if (f === undefined) throw new WireError("malformed", `unknown op ${h.op}`);
  return f;
}

/**
 * Decodes a datagram (revision 4): exactly one whole Push frame carrying
 * {@link PushFlags.Ephemeral}. Throws {@link WireError} otherwise; a client
 * drops such a datagram and keeps the connection, since a datagram cannot
 * desynchronize the stream. Data aliases `b`.
 */
export function decodeDatagram(b: Uint8Array, maxFrame: number = DEFAULT_MAX_FRAME): PushFrame {
  const f = decodeFrame(b, maxFrame);
  if (f.op !== Op.Push) throw new WireError("malformed", `datagram: op ${f.op}, want push`);
  if (!isEphemeral(f)) throw new WireError("malformed", "datagram: a reliable push");
  return f;
}

/**
 * Splits a message that holds whole frames, as a WebSocket binary message
 * does. A message that ends inside a frame is malformed. Bodies alias
 * `message`.
 */
export function splitFrames(message: Uint8Array, maxFrame: number = DEFAULT_MAX_FRAME): RawFrame[] {
  const out: RawFrame[] = [];
  let pos = 0;
  while (pos < message.length) {
    const rest = message.subarray(pos);
    if (rest.length < HEADER_SIZE) {
      throw new WireError("malformed", `message ends ${rest.length} bytes into a header`);
    }
    const h = parseHeader(rest, maxFrame);
    const size = HEADER_SIZE + h.bodyLength;
    if (rest.length < size) throw new WireError("malformed", "message ends inside a frame");
    out.push({ op: h.op, seq: h.seq, body: rest.subarray(HEADER_SIZE, size) });
    pos += size;
  }
  return out;
}

/**
 * Parses a continuous byte stream (a WebTransport or QUIC stream, TCP) into
 * frames, whatever the boundaries of the chunks it is given: a chunk may end
 * in the middle of a header or a body. It holds no buffer between frames; a
 * frame cut by a chunk boundary is assembled in a buffer of its exact size.
 * Bodies of frames that sit whole in a chunk alias that chunk, so chunks must
 * not be reused after {@link FrameDecoder.push}.
 *
 * After an error every further push throws the same error: the stream cannot
 * be resynchronised.
 */
export class FrameDecoder {
  private readonly maxFrame: number;
  private readonly hdr = new Uint8Array(HEADER_SIZE);
  private hdrLen = 0;
  private header: Header | null = null;
  private body: Uint8Array | null = null;
  private bodyLen = 0;
  private error: unknown = null;

  /** @param maxFrame the largest frame accepted, header included; default 65536. */
  constructor(maxFrame: number = DEFAULT_MAX_FRAME) {
    this.maxFrame = maxFrame;
  }

  /** Bytes of an unfinished frame held: nonzero when a stream ends mid-frame. */
  get pending(): number {
    return this.hdrLen + this.bodyLen;
  }

  /**
   * Feeds a chunk and returns the frames it completes, in order. A bad frame
   * throws, but not before the good frames ahead of it in the same chunk are
   * returned: the error then comes from the next call (feed an empty chunk to
   * see it at once), so how the stream was cut never changes what arrives.
   */
  push(chunk: Uint8Array): RawFrame[] {
    if (this.error !== null) throw this.error;
    const out: RawFrame[] = [];
    try {
      this.parse(chunk, out);
    } catch (e) {
      this.error = e;
      if (out.length === 0) throw e;
    }
    return out;
  }

  private parse(chunk: Uint8Array, out: RawFrame[]): void {
    let pos = 0;
    if (this.hdrLen > 0) {
      // Finish the frame that the previous chunk cut.
      if (this.header === null) {
        const k = Math.min(HEADER_SIZE - this.hdrLen, chunk.length);
        this.hdr.set(chunk.subarray(0, k), this.hdrLen);
        this.hdrLen += k;
        pos = k;
        if (this.hdrLen < HEADER_SIZE) return;
        this.header = parseHeader(this.hdr, this.maxFrame);
        this.body = new Uint8Array(this.header.bodyLength);
        this.bodyLen = 0;
      }
      const body = this.body!;
      const k = Math.min(body.length - this.bodyLen, chunk.length - pos);
      body.set(chunk.subarray(pos, pos + k), this.bodyLen);
      this.bodyLen += k;
      pos += k;
      if (this.bodyLen < body.length) return;
      out.push({ op: this.header.op, seq: this.header.seq, body });
      this.hdrLen = 0;
      this.header = null;
      this.body = null;
      this.bodyLen = 0;
    }
    // Whole frames in the chunk: no copy.
    while (chunk.length - pos >= HEADER_SIZE) {
      const h = parseHeader(chunk.subarray(pos), this.maxFrame);
      const size = HEADER_SIZE + h.bodyLength;
      if (chunk.length - pos < size) {
        // A header and part of a body: keep them.
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
      // Part of a header.
      this.hdr.set(chunk.subarray(pos));
      this.hdrLen = chunk.length - pos;
    }
    return;
  }
}
