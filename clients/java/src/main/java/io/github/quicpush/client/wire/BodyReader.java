package io.github.quicpush.client.wire;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Reads the fields of one body in order (section 4). Every failure is a malformed frame; bytes after the last
 * field read are left alone, which is how trailing bytes are ignored.
 */
final class BodyReader {
    private byte[] buf = new byte[0];
    private int pos;
    private int end;
    private final @Nullable NameCache names;

    /**
     * A reader to {@link #reset} for each body. With {@code names}, the rooms and epochs of pushes come from that
     * cache; a FrameReader keeps one of each, so decoding needs no allocation of its own.
     */
    BodyReader(@Nullable NameCache names) {
        this.names = names;
    }

    BodyReader reset(byte[] buf, int off, int len) {
        this.buf = buf;
        this.pos = off;
        this.end = off + len;
        return this;
    }

    /** Whether bytes are left: an optional group (a position, Push flags) follows. */
    boolean more() {
        return pos < end;
    }

    int u8(String what) throws WireException {
        if (pos >= end) {
            throw truncated(what);
        }
        return buf[pos++] & 0xff;
    }

    int u16(String what) throws WireException {
        if (end - pos < 2) {
            throw truncated(what);
        }
        int v = (buf[pos] & 0xff) << 8 | (buf[pos + 1] & 0xff);
        pos += 2;
        return v;
    }

    /**
     * An unsigned LEB128 value as Go's binary.Uvarint reads it: non-minimal forms are accepted, a value past 64
     * bits (an 11th byte, or a 10th byte above 01) is not.
     */
    long uvarint(String what) throws WireException {
        long v = 0;
        for (int i = 0, shift = 0; i < 10; i++, shift += 7) {
            if (pos >= end) {
                throw truncated(what);
            }
            int b = buf[pos++] & 0xff;
            if (b < 0x80) {
                if (i == 9 && b > 1) {
                    throw WireException.malformed(what + ": uvarint overflows 64 bits");
                }
                return v | (long) b << shift;
            }
            v |= (long) (b & 0x7f) << shift;
        }
        throw WireException.malformed(what + ": uvarint longer than 10 bytes");
    }

    /** Reads a length prefix of at most {@code limit} that fits the body, and returns it; the bytes follow at pos. */
    private int length(String what, int limit) throws WireException {
        long n = uvarint(what);
        // Unsigned: a length of 2^63 or more reads as negative and is as wrong as one past the end.
        if (n < 0 || n > end - pos) {
            throw WireException.malformed(what + ": length " + Long.toUnsignedString(n) + " past the body's end");
        }
        if (n > limit) {
            throw WireException.malformed(what + ": " + n + " bytes, limit " + limit);
        }
        return (int) n;
    }

    String str(String what, int limit) throws WireException {
        int n = length(what, limit);
        if (n == 0) {
            return "";
        }
        // Decoding replaces invalid UTF-8 instead of failing: a version-1 decoder does not check it.
        String s = new String(buf, pos, n, StandardCharsets.UTF_8);
        pos += n;
        return s;
    }

    /** A {@code str} a stream repeats (a push's room and epoch): taken from the cache when there is one. */
    String name(String what) throws WireException {
        if (names == null) {
            return str(what, Limits.MAX_NAME);
        }
        int n = length(what, Limits.MAX_NAME);
        if (n == 0) {
            return "";
        }
        String s = names.get(buf, pos, n);
        pos += n;
        return s;
    }

    /** A {@code str} with no limit but the frame's (Error message, Disconnect reason). */
    String text(String what) throws WireException {
        return str(what, Integer.MAX_VALUE);
    }

    byte[] bytes(String what) throws WireException {
        return bytes(what, Integer.MAX_VALUE);
    }

    byte[] bytes(String what, int limit) throws WireException {
        int n = length(what, limit);
        byte[] b = new byte[n];
        System.arraycopy(buf, pos, b, 0, n);
        pos += n;
        return b;
    }

    /**
     * A revision-5 member list. A member takes at least three bytes (three empty fields), so a count above a third
     * of the bytes left is malformed and rejected before anything is allocated: a forged count cannot make the
     * decoder reserve memory it was not sent.
     */
    List<Member> members(String what) throws WireException {
        long n = uvarint(what + " count");
        // Unsigned: a count of 2^63 or more reads as negative.
        if (n < 0 || n > (end - pos) / 3) {
            throw WireException.malformed(what + ": " + Long.toUnsignedString(n) + " members in " + (end - pos)
                    + " bytes");
        }
        if (n == 0) {
            return List.of();
        }
        List<Member> out = new ArrayList<>((int) n);
        for (long i = 0; i < n; i++) {
            String user = str(what + " user", Limits.MAX_NAME);
            String connKey = str(what + " conn_key", Limits.MAX_NAME);
            out.add(new Member(user, connKey, bytes(what + " info", Limits.MAX_INFO)));
        }
        return out;
    }

    private static WireException truncated(String what) {
        return WireException.malformed(what + ": body ends inside the field");
    }
}
