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
export declare const VERSION = 1;
/**
 * The revision of version 1 this codec speaks: 2 added stream positions and
 * resume, 3 token refresh (TokenExpiring, Refresh, RefreshOK), 4 ephemeral
 * pushes (Push flags, datagrams), 5 server-side rooms (Subscribed,
 * Unsubscribed, Auth's `joins`), join and leave notices (JoinLeave), presence
 * for clients (PresenceGet, PresenceOK) and the edge's revision in AuthOK.
 */
export declare const REVISION = 5;
/** The WebSocket subprotocol of this version. */
export declare const WEBSOCKET_PROTOCOL = "quicpush.v1";
/** The QUIC ALPN of raw QUIC connections (not usable from browsers). */
export declare const ALPN = "quicpush/1";
/** Size of a frame header: length (4), op (1), seq (4). */
export declare const HEADER_SIZE = 9;
/** The largest frame, header included, either side must accept by default. */
export declare const DEFAULT_MAX_FRAME = 65536;
/** The longest room name, and the longest id, epoch, conn_key and user, in bytes. */
export declare const MAX_ROOM_LEN = 255;
/** The longest token in bytes. */
export declare const MAX_TOKEN_LEN = 8192;
/**
 * The largest frame an edge reads before AuthOK: the largest well-formed Auth
 * (a 10-byte version, the longest token, a 10-byte offset, the longest epoch,
 * a 10-byte revision-5 `joins`).
 */
export declare const MAX_AUTH_FRAME = 8490;
/** The longest member info (revision 5), in bytes: a JSON object of at most 1 KiB. */
export declare const MAX_INFO_LEN = 1024;
/** Operation codes of version 1. */
export declare const Op: {
    readonly Auth: 1;
    readonly AuthOK: 2;
    readonly Ping: 3;
    readonly Pong: 4;
    readonly Join: 5;
    readonly JoinOK: 6;
    readonly Leave: 7;
    readonly LeaveOK: 8;
    readonly Push: 9;
    readonly Error: 10;
    readonly Disconnect: 11;
    /** Revision 3: server → client, the token expires soon; answer with Refresh. */
    readonly TokenExpiring: 12;
    /** Revision 3: client → server, a fresh token for the connection. */
    readonly Refresh: 13;
    /** Revision 3: server → client, the answer to Refresh. */
    readonly RefreshOK: 14;
    /** Revision 5: server → client, the backend put the connection in a room. */
    readonly Subscribed: 15;
    /** Revision 5: server → client, the backend took the connection out of a room. */
    readonly Unsubscribed: 16;
    /** Revision 5: server → client, who joined and left a room since the last notice. */
    readonly JoinLeave: 17;
    /** Revision 5: client → server (an edge of revision 5 or later), who is in a room. */
    readonly PresenceGet: 18;
    /** Revision 5: server → client, the answer to PresenceGet. */
    readonly PresenceOK: 19;
};
/** An operation code defined by version 1. */
export type Op = (typeof Op)[keyof typeof Op];
/** How a pushed message was addressed. */
export declare const PushKind: {
    /** To this connection's key or user. */
    readonly Direct: 0;
    /** To a room the connection joined. */
    readonly Room: 1;
    /** To every connection. */
    readonly Broadcast: 2;
};
/** A push kind defined by version 1. */
export type PushKind = (typeof PushKind)[keyof typeof PushKind];
/**
 * What became of a request to resume a stream (revision 2), in AuthOK for the
 * user's stream and in JoinOK for a room's (protocol section 11).
 */
export declare const Recovery: {
    /**
     * No position was sent, or the stream keeps no history: the reply's
     * position is where the client now stands.
     */
    readonly None: 0;
    /**
     * Every message after the client's position follows the reply, in order,
     * then live ones: no gap, no repeat.
     */
    readonly Recovered: 1;
    /**
     * The messages after the client's position are gone: none is replayed, and
     * live ones newer than the reply's position follow.
     */
    readonly NotRecovered: 2;
};
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
export declare const PushFlags: {
    /**
     * Superseded state: no position, never replayed, may be dropped, may
     * overtake reliable pushes, may come in a datagram.
     */
    readonly Ephemeral: 1n;
};
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
export declare function isEphemeral(f: PushFrame): boolean;
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
export type Frame = AuthFrame | AuthOKFrame | PingPongFrame | JoinFrame | JoinOKFrame | RoomFrame | PushFrame | ErrorFrame | DisconnectFrame | TokenExpiringFrame | RefreshFrame | RefreshOKFrame | SubscribedFrame | JoinLeaveFrame | PresenceOKFrame;
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
export declare class WireError extends Error {
    readonly kind: WireErrorKind;
    constructor(kind: WireErrorKind, message: string);
}
/** Reports whether `op` is defined by version 1 (up to revision 5). */
export declare function isKnownOp(op: number): op is Op;
/**
 * Encodes a whole frame, header included. It writes what it is given: limits
 * on string lengths are checked by the receiver (and by the client before it
 * sends), not here. Throws RangeError for a seq, code or number out of range.
 */
export declare function encodeFrame(f: Frame): Uint8Array;
/**
 * Decodes the body of a frame with a known op. Bytes after the last field are
 * ignored (later revisions may append fields). Returns undefined for an op
 * version 1 does not define, which a client skips. Push `data` aliases `body`.
 * Throws {@link WireError} for a malformed body.
 */
export declare function decodeBody(op: number, seq: number, body: Uint8Array): Frame | undefined;
/**
 * Decodes a frame header from the first 9 bytes of `b` and checks the whole
 * frame's size against `maxFrame` (header included), so a frame over the
 * limit is refused before its body arrives. The op is not checked.
 */
export declare function parseHeader(b: Uint8Array, maxFrame?: number): Header;
/**
 * Decodes exactly one whole frame. Throws {@link WireError} when it is
 * malformed, over `maxFrame`, of an unknown op, or followed by other bytes.
 */
export declare function decodeFrame(b: Uint8Array, maxFrame?: number): Frame;
/**
 * Decodes a datagram (revision 4): exactly one whole Push frame carrying
 * {@link PushFlags.Ephemeral}. Throws {@link WireError} otherwise; a client
 * drops such a datagram and keeps the connection, since a datagram cannot
 * desynchronize the stream. Data aliases `b`.
 */
export declare function decodeDatagram(b: Uint8Array, maxFrame?: number): PushFrame;
/**
 * Splits a message that holds whole frames, as a WebSocket binary message
 * does. A message that ends inside a frame is malformed. Bodies alias
 * `message`.
 */
export declare function splitFrames(message: Uint8Array, maxFrame?: number): RawFrame[];
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
export declare class FrameDecoder {
    private readonly maxFrame;
    private readonly hdr;
    private hdrLen;
    private header;
    private body;
    private bodyLen;
    private error;
    /** @param maxFrame the largest frame accepted, header included; default 65536. */
    constructor(maxFrame?: number);
    /** Bytes of an unfinished frame held: nonzero when a stream ends mid-frame. */
    get pending(): number;
    /**
     * Feeds a chunk and returns the frames it completes, in order. A bad frame
     * throws, but not before the good frames ahead of it in the same chunk are
     * returned: the error then comes from the next call (feed an empty chunk to
     * see it at once), so how the stream was cut never changes what arrives.
     */
    push(chunk: Uint8Array): RawFrame[];
    private parse;
}
