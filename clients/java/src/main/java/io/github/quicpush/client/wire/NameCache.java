package io.github.quicpush.client.wire;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Remembers the strings of the names a stream repeats, so that the room and epoch of a push cost no allocation
 * when they were seen recently: a busy connection gets push after push of the same few rooms and epochs, and on a
 * phone the garbage is battery. Direct-mapped by a hash of the bytes; a collision just replaces the slot. The
 * value for given bytes is what decoding them would give, so a hit and a miss are indistinguishable.
 */
final class NameCache {
    private static final int SLOTS = 32;

    private final byte[][] keys = new byte[SLOTS][];
    private final String[] values = new String[SLOTS];

    String get(byte[] buf, int off, int len) {
        int h = 1;
        for (int i = off; i < off + len; i++) {
            h = 31 * h + buf[i];
        }
        int slot = (h ^ (h >>> 16)) & (SLOTS - 1);
        byte[] k = keys[slot];
        if (k != null && same(k, buf, off, len)) {
            return values[slot];
        }
        String s = new String(buf, off, len, StandardCharsets.UTF_8);
        keys[slot] = Arrays.copyOfRange(buf, off, off + len);
        values[slot] = s;
        return s;
    }

    // Arrays.equals over a range is missing from older Android releases.
    private static boolean same(byte[] k, byte[] buf, int off, int len) {
        if (k.length != len) {
            return false;
        }
        for (int i = 0; i < len; i++) {
            if (k[i] != buf[off + i]) {
                return false;
            }
        }
        return true;
    }
}
