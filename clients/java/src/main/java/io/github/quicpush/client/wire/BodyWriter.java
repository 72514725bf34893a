package io.github.quicpush.client.wire;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Writes one frame: a header whose length is patched in {@link #finish()}, then the fields in order. Encoders
 * write the shortest uvarint (section 4) and check each {@code str} against its limit, since a peer would close
 * the connection for a longer one.
 */
final class BodyWriter {
    private byte[] buf;
    private int len;

    BodyWriter(int op, int seq, int sizeHint) {
        buf = new byte[Limits.HEADER + Math.max(sizeHint, 16)];
        buf[4] = (byte) op;
        putInt(5, seq);
        len = Limits.HEADER;
    }

    private void putInt(int at, int v) {
        buf[at] = (byte) (v >>> 24);
        buf[at + 1] = (byte) (v >>> 16);
        buf[at + 2] = (byte) (v >>> 8);
        buf[at + 3] = (byte) v;
    }

    private void ensure(int n) {
        if (buf.length - len < n) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + n));
        }
    }

    void u8(int v) {
        ensure(1);
        buf[len++] = (byte) v;
    }

    void u16(int v) {
        if (v < 0 || v > 0xffff) {
            throw new IllegalArgumentException("code " + v + " does not fit a u16");
        }
        ensure(2);
        buf[len++] = (byte) (v >>> 8);
        buf[len++] = (byte) v;
    }

    void uvarint(long v) {
        ensure(10);
        // Unsigned shift: a negative long is a value of 2^63 or more and takes all 10 bytes.
        while ((v & ~0x7fL) != 0) {
            buf[len++] = (byte) (v & 0x7f | 0x80);
            v >>>= 7;
        }
        buf[len++] = (byte) v;
    }

    void str(String what, String s, int limit) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > limit) {
            throw new IllegalArgumentException(what + " is " + b.length + " bytes, limit " + limit);
        }
        bytes(b);
    }

    void bytes(byte[] b) {
        uvarint(b.length);
        ensure(b.length);
        System.arraycopy(b, 0, buf, len, b.length);
        len += b.length;
    }

    /** The whole frame, its length field set. */
    byte[] finish() {
        putInt(0, len - 4);
        return len == buf.length ? buf : Arrays.copyOf(buf, len);
    }
}
