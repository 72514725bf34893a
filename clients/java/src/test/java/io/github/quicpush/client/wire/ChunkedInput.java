package io.github.quicpush.client.wire;

import java.io.InputStream;
import java.util.function.IntUnaryOperator;

/**
 * An InputStream over a byte array whose reads return at most a chosen number of bytes each, to show that frame
 * boundaries need not match read boundaries. It counts the reads, so tests can see how many a stream cost.
 */
final class ChunkedInput extends InputStream {
    private final byte[] b;
    private int pos;
    private final IntUnaryOperator chunk;
    private int reads;

    /** {@code chunk} maps the read's index to its size (at least 1 is used). */
    ChunkedInput(byte[] b, IntUnaryOperator chunk) {
        this.b = b;
        this.chunk = chunk;
    }

    static ChunkedInput oneByte(byte[] b) {
        return new ChunkedInput(b, i -> 1);
    }

    static ChunkedInput whole(byte[] b) {
        return new ChunkedInput(b, i -> Integer.MAX_VALUE);
    }

    int reads() {
        return reads;
    }

    @Override
    public int read() {
        return pos < b.length ? b[pos++] & 0xff : -1;
    }

    @Override
    public int read(byte[] to, int off, int len) {
        if (len == 0) {
            return 0;
        }
        reads++;
        if (pos >= b.length) {
            return -1;
        }
        int n = Math.min(Math.min(len, Math.max(1, chunk.applyAsInt(reads - 1))), b.length - pos);
        System.arraycopy(b, pos, to, off, n);
        pos += n;
        return n;
    }
}
