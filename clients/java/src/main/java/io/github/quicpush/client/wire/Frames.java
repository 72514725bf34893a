package io.github.quicpush.client.wire;

import java.io.ByteArrayOutputStream;
import org.jspecify.annotations.Nullable;

/** Encodes and decodes whole frames and bodies (docs/protocol.md sections 3-5 and 6.7-6.10). */
public final class Frames {
    private Frames() {}

    /** A decoded frame: its op, its seq (u32 in an int) and its body, null for an op undefined in version 1. */
    public record Decoded(int op, int seq, @Nullable Body body) {}

    /**
     * One whole frame, header included. Position groups and Push flags are left out when zero, unless a later field
     * (Auth's {@code joins}, AuthOk's {@code revision}) follows, which then needs the group written in full; uvarints
     * are minimal.
     *
     * @throws IllegalArgumentException a string over its limit (section 9), a Push kind or a recovery value the
     *     protocol does not define, a code that does not fit a u16, or a member info over
     *     {@link Limits#MAX_INFO}: a peer would reject the frame
     */
    public static byte[] encode(int seq, Body body) {
        BodyWriter w;
        if (body instanceof Auth m) {
            w = new BodyWriter(Op.AUTH, seq, m.token().length() + 16);
            w.uvarint(m.version());
            w.str("token", m.token(), Limits.MAX_TOKEN);
            if (m.offset() != 0 || !m.epoch().isEmpty() || m.joins() != 0) {
                w.uvarint(m.offset());
                w.str("epoch", m.epoch(), Limits.MAX_NAME);
            }
            if (m.joins() != 0) {
                w.uvarint(m.joins());
            }
        } else if (body instanceof AuthOk m) {
            w = new BodyWriter(Op.AUTH_OK, seq, 64);
            w.str("conn_key", m.connKey(), Limits.MAX_NAME);
            w.str("user", m.user(), Limits.MAX_NAME);
            w.uvarint(m.pingIntervalMs());
            w.uvarint(m.maxFrame());
            if (m.revision() == 0) {
                position(w, m.recovery(), m.offset(), m.epoch());
            } else {
                wholePosition(w, m.recovery(), m.offset(), m.epoch());
                w.uvarint(m.revision());
            }
        } else if (body instanceof Ping) {
            w = new BodyWriter(Op.PING, seq, 0);
        } else if (body instanceof Pong) {
            w = new BodyWriter(Op.PONG, seq, 0);
        } else if (body instanceof Join m) {
            w = new BodyWriter(Op.JOIN, seq, 32);
            w.str("room", m.room(), Limits.MAX_NAME);
            w.uvarint(m.offset());
            w.str("epoch", m.epoch(), Limits.MAX_NAME);
        } else if (body instanceof JoinOk m) {
            w = new BodyWriter(Op.JOIN_OK, seq, 32);
            w.str("room", m.room(), Limits.MAX_NAME);
            position(w, m.recovery(), m.offset(), m.epoch());
        } else if (body instanceof Leave m) {
            w = new BodyWriter(Op.LEAVE, seq, 16);
            w.str("room", m.room(), Limits.MAX_NAME);
        } else if (body instanceof LeaveOk m) {
            w = new BodyWriter(Op.LEAVE_OK, seq, 16);
            w.str("room", m.room(), Limits.MAX_NAME);
        } else if (body instanceof Push m) {
            if (m.kind() < Push.KIND_DIRECT || m.kind() > Push.KIND_BROADCAST) {
                throw new IllegalArgumentException("push kind " + m.kind());
            }
            w = new BodyWriter(Op.PUSH, seq, m.data().length + 32);
            w.u8(m.kind());
            w.str("room", m.room(), Limits.MAX_NAME);
            w.str("id", m.id(), Limits.MAX_NAME);
            w.uvarint(m.offset());
            w.str("epoch", m.epoch(), Limits.MAX_NAME);
            w.bytes(m.data());
            if (m.flags() != 0) {
                w.uvarint(m.flags());
            }
        } else if (body instanceof RequestError m) {
            w = new BodyWriter(Op.ERROR, seq, m.message().length() + 4);
            w.u16(m.code());
            w.str("message", m.message(), Integer.MAX_VALUE);
        } else if (body instanceof Disconnect m) {
            w = new BodyWriter(Op.DISCONNECT, seq, m.reason().length() + 4);
            w.u16(m.code());
            w.str("reason", m.reason(), Integer.MAX_VALUE);
        } else if (body instanceof TokenExpiring m) {
            w = new BodyWriter(Op.TOKEN_EXPIRING, seq, 10);
            w.uvarint(m.expiresInMs());
        } else if (body instanceof Refresh m) {
            w = new BodyWriter(Op.REFRESH, seq, m.token().length() + 2);
            w.str("token", m.token(), Limits.MAX_TOKEN);
        } else if (body instanceof RefreshOk m) {
            w = new BodyWriter(Op.REFRESH_OK, seq, 10);
            w.uvarint(m.expiresInMs());
        } else if (body instanceof Subscribed m) {
            w = new BodyWriter(Op.SUBSCRIBED, seq, 32);
            w.str("room", m.room(), Limits.MAX_NAME);
            position(w, m.recovery(), m.offset(), m.epoch());
        } else if (body instanceof Unsubscribed m) {
            w = new BodyWriter(Op.UNSUBSCRIBED, seq, 16);
            w.str("room", m.room(), Limits.MAX_NAME);
        } else if (body instanceof JoinLeave m) {
            w = new BodyWriter(Op.JOIN_LEAVE, seq, 64);
            w.str("room", m.room(), Limits.MAX_NAME);
            members(w, m.joined());
            members(w, m.left());
            w.uvarint(m.omitted());
        } else if (body instanceof PresenceGet m) {
            w = new BodyWriter(Op.PRESENCE_GET, seq, 16);
            w.str("room", m.room(), Limits.MAX_NAME);
        } else if (body instanceof PresenceOk m) {
            w = new BodyWriter(Op.PRESENCE_OK, seq, 64);
            w.str("room", m.room(), Limits.MAX_NAME);
            w.uvarint(m.conns());
            w.uvarint(m.users());
            w.u8(m.complete() ? 1 : 0);
            members(w, m.members());
        } else {
            throw new AssertionError(body);
        }
        return w.finish();
    }

    /** Appends one whole frame to {@code out}, as {@link #encode(int, Body)} writes it. */
    public static void encode(ByteArrayOutputStream out, int seq, Body body) {
        byte[] f = encode(seq, body);
        // write(byte[], int, int) rather than writeBytes, which older Android releases lack.
        out.write(f, 0, f.length);
    }

    // The revision-2 group of AuthOK and JoinOK: absent when all zero, whole otherwise.
    private static void position(BodyWriter w, int recovery, long offset, String epoch) {
        if (recovery == Recovery.NONE && offset == 0 && epoch.isEmpty()) {
            return;
        }
        wholePosition(w, recovery, offset, epoch);
    }

    // The group written even when all zero: a revision-5 field follows it.
    private static void wholePosition(BodyWriter w, int recovery, long offset, String epoch) {
        if (recovery < Recovery.NONE || recovery > Recovery.NOT_RECOVERED) {
            throw new IllegalArgumentException("recovery " + recovery);
        }
        w.u8(recovery);
        w.uvarint(offset);
        w.str("epoch", epoch, Limits.MAX_NAME);
    }

    // A revision-5 member list: count, then user, conn_key and info of each.
    private static void members(BodyWriter w, java.util.List<Member> ms) {
        w.uvarint(ms.size());
        for (Member m : ms) {
            w.str("member user", m.user(), Limits.MAX_NAME);
            w.str("member conn_key", m.connKey(), Limits.MAX_NAME);
            if (m.info().length > Limits.MAX_INFO) {
                throw new IllegalArgumentException("member info is " + m.info().length + " bytes, limit "
                        + Limits.MAX_INFO);
            }
            w.bytes(m.info());
        }
    }

    /**
     * Decodes the body of a frame of {@code op} from {@code buf[off, off+len)}. Returns null for an op undefined in
     * version 1: its length already says how far to skip, and a client skips it rather than fail. Bytes after the
     * known fields are ignored. The returned body shares nothing with {@code buf}.
     */
    public static @Nullable Body decodeBody(int op, byte[] buf, int off, int len) throws WireException {
        checkRange(buf, off, len);
        return decodeBody(op, new BodyReader(null).reset(buf, off, len));
    }

    /** As {@link #decodeBody(int, byte[], int, int)}, from a reader already {@link BodyReader#reset} to the body. */
    static @Nullable Body decodeBody(int op, BodyReader r) throws WireException {
        switch (op) {
            case Op.AUTH: {
                long version = r.uvarint("auth version");
                String token = r.str("auth token", Limits.MAX_TOKEN);
                if (!r.more()) {
                    return new Auth(version, token, 0, "", 0);
                }
                long offset = r.uvarint("auth offset");
                String epoch = r.str("auth epoch", Limits.MAX_NAME);
                long joins = r.more() ? r.uvarint("auth joins") : 0;
                return new Auth(version, token, offset, epoch, joins);
            }
            case Op.AUTH_OK: {
                String connKey = r.str("auth_ok conn_key", Limits.MAX_NAME);
                String user = r.str("auth_ok user", Limits.MAX_NAME);
                long ping = r.uvarint("auth_ok ping_interval_ms");
                long maxFrame = r.uvarint("auth_ok max_frame");
                if (!r.more()) {
                    return new AuthOk(connKey, user, ping, maxFrame, Recovery.NONE, 0, "", 0);
                }
                int recovery = recovery(r, "auth_ok");
                long offset = r.uvarint("auth_ok offset");
                String epoch = r.str("auth_ok epoch", Limits.MAX_NAME);
                long revision = r.more() ? r.uvarint("auth_ok revision") : 0;
                return new AuthOk(connKey, user, ping, maxFrame, recovery, offset, epoch, revision);
            }
            case Op.PING:
                return Ping.INSTANCE;
            case Op.PONG:
                return Pong.INSTANCE;
            case Op.JOIN: {
                String room = r.str("join room", Limits.MAX_NAME);
                long offset = r.uvarint("join offset");
                return new Join(room, offset, r.str("join epoch", Limits.MAX_NAME));
            }
            case Op.JOIN_OK: {
                String room = r.str("join_ok room", Limits.MAX_NAME);
                if (!r.more()) {
                    return new JoinOk(room, Recovery.NONE, 0, "");
                }
                int recovery = recovery(r, "join_ok");
                long offset = r.uvarint("join_ok offset");
                return new JoinOk(room, recovery, offset, r.str("join_ok epoch", Limits.MAX_NAME));
            }
            case Op.LEAVE:
                return new Leave(r.str("leave room", Limits.MAX_NAME));
            case Op.LEAVE_OK:
                return new LeaveOk(r.str("leave_ok room", Limits.MAX_NAME));
            case Op.PUSH:
                return push(r);
            case Op.ERROR: {
                int code = r.u16("error code");
                return new RequestError(code, r.text("error message"));
            }
            case Op.DISCONNECT: {
                int code = r.u16("disconnect code");
                return new Disconnect(code, r.text("disconnect reason"));
            }
            case Op.TOKEN_EXPIRING:
                return new TokenExpiring(r.uvarint("token_expiring expires_in_ms"));
            case Op.REFRESH:
                return new Refresh(r.str("refresh token", Limits.MAX_TOKEN));
            case Op.REFRESH_OK:
                return new RefreshOk(r.uvarint("refresh_ok expires_in_ms"));
            case Op.SUBSCRIBED: {
                String room = r.str("subscribed room", Limits.MAX_NAME);
                if (!r.more()) {
                    return new Subscribed(room, Recovery.NONE, 0, "");
                }
                int recovery = recovery(r, "subscribed");
                long offset = r.uvarint("subscribed offset");
                return new Subscribed(room, recovery, offset, r.str("subscribed epoch", Limits.MAX_NAME));
            }
            case Op.UNSUBSCRIBED:
                return new Unsubscribed(r.str("unsubscribed room", Limits.MAX_NAME));
            case Op.JOIN_LEAVE: {
                String room = r.str("join_leave room", Limits.MAX_NAME);
                java.util.List<Member> joined = r.members("join_leave joined");
                java.util.List<Member> left = r.members("join_leave left");
                return new JoinLeave(room, joined, left, r.uvarint("join_leave omitted"));
            }
            case Op.PRESENCE_GET:
                return new PresenceGet(r.str("presence_get room", Limits.MAX_NAME));
            case Op.PRESENCE_OK: {
                String room = r.str("presence_ok room", Limits.MAX_NAME);
                long conns = r.uvarint("presence_ok conns");
                long users = r.uvarint("presence_ok users");
                int complete = r.u8("presence_ok complete");
                if (complete > 1) {
                    throw WireException.malformed("presence_ok complete " + complete);
                }
                return new PresenceOk(room, conns, users, complete == 1, r.members("presence_ok members"));
            }
            default:
                return null;
        }
    }

    private static Push push(BodyReader r) throws WireException {
        int kind = r.u8("push kind");
        if (kind > Push.KIND_BROADCAST) {
            // A new kind needs a new version: a version-1 decoder cannot guess what it is addressed to.
            throw WireException.malformed("push kind " + kind);
        }
        String room = r.name("push room");
        String id = r.str("push id", Limits.MAX_NAME);
        long offset = r.uvarint("push offset");
        String epoch = r.name("push epoch");
        byte[] data = r.bytes("push data");
        long flags = r.more() ? r.uvarint("push flags") : 0;
        return new Push(kind, room, id, offset, epoch, data, flags);
    }

    private static int recovery(BodyReader r, String what) throws WireException {
        int v = r.u8(what + " recovery");
        if (v > Recovery.NOT_RECOVERED) {
            throw WireException.malformed(what + " recovery " + v);
        }
        return v;
    }

    /**
     * Reads a frame header from {@code buf[off, off+9)} and returns the whole frame's size, header included.
     * The length is read unsigned and checked against {@code maxFrame} before anything else is looked at.
     */
    static int frameSize(byte[] buf, int off, int maxFrame) throws WireException {
        long length = ((buf[off] & 0xffL) << 24) | ((buf[off + 1] & 0xff) << 16) | ((buf[off + 2] & 0xff) << 8)
                | (buf[off + 3] & 0xff);
        if (length < Limits.HEADER - 4) {
            throw WireException.malformed("length " + length + " below the 5 bytes of op and seq");
        }
        if (length + 4 > maxFrame) {
            throw WireException.tooLarge(length + 4, maxFrame);
        }
        return (int) length + 4;
    }

    // A range outside the array is the caller's bug, not a malformed frame: say so at once.
    private static void checkRange(byte[] buf, int off, int len) {
        if (off < 0 || len < 0 || len > buf.length - off) {
            throw new IndexOutOfBoundsException("range [" + off + ", " + off + " + " + len + ") of " + buf.length);
        }
    }

    static int seq(byte[] buf, int off) {
        return (buf[off + 5] & 0xff) << 24 | (buf[off + 6] & 0xff) << 16 | (buf[off + 7] & 0xff) << 8
                | (buf[off + 8] & 0xff);
    }

    /** {@code maxFrame} as given, or {@link Limits#MAX_FRAME} for 0 or less. */
    static int limit(int maxFrame) {
        return maxFrame > 0 ? maxFrame : Limits.MAX_FRAME;
    }

    /**
     * Decodes exactly one whole frame in {@code buf[off, off+len)}: a datagram, a vector. The header is checked
     * against {@code maxFrame} (0 or less: {@link Limits#MAX_FRAME}) first, so an oversized frame is
     * {@link WireException.Kind#TOO_LARGE} even when only its header is there. Fewer or more bytes than the header
     * announces are malformed.
     */
    public static Decoded decode(byte[] buf, int off, int len, int maxFrame) throws WireException {
        checkRange(buf, off, len);
        if (len < Limits.HEADER) {
            throw WireException.malformed(len + " bytes, shorter than a header");
        }
        int size = frameSize(buf, off, limit(maxFrame));
        if (size != len) {
            throw WireException.malformed("header announces " + size + " bytes, got " + len);
        }
        int op = buf[off + 4] & 0xff;
        return new Decoded(op, seq(buf, off), decodeBody(op, buf, off + Limits.HEADER, len - Limits.HEADER));
    }

    /**
     * Decodes a datagram (revision 4, section 6.7): one whole Push frame with the ephemeral flag and nothing
     * else. Anything else is malformed (or too large); the caller drops it and keeps the connection.
     */
    public static Push decodeDatagram(byte[] buf, int off, int len, int maxFrame) throws WireException {
        Decoded d = decode(buf, off, len, maxFrame);
        if (!(d.body() instanceof Push p)) {
            throw WireException.malformed("datagram of op " + Op.name(d.op()) + ", want push");
        }
        if (!p.ephemeral()) {
            throw WireException.malformed("datagram holds a reliable push");
        }
        return p;
    }
}
