package io.github.quicpush.client.wire;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.lang.management.ManagementFactory;

/**
 * What a busy client reads: room Push frames with a 100-byte payload, back to back, served by an InputStream that
 * replays a block of distinct frames without allocating, in reads of up to 64 KiB (a socket's worth). Shared by
 * {@link CodecBench} and {@link AllocationTest}.
 */
final class PushStream extends InputStream {
    static final int PAYLOAD = 100;
    private static final int BLOCK_FRAMES = 4096;

    private final byte[] block;
    private final long total;
    private long served;
    private int pos;
    private long reads;

    /** A stream of {@code frames} pushes. */
    PushStream(long frames) {
        this.block = buildBlock();
        this.total = frames * (block.length / BLOCK_FRAMES);
    }

    static Push push(int i) {
        byte[] data = new byte[PAYLOAD];
        for (int j = 0; j < data.length; j++) {
            data[j] = (byte) ('a' + (i + j) % 26);
        }
        return new Push(Push.KIND_ROOM, "news/sport", "m-" + (100000 + i), 1_000_000L + i, "e7f3", data, 0);
    }

    private static byte[] buildBlock() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int size = -1;
        for (int i = 0; i < BLOCK_FRAMES; i++) {
            byte[] f = Frames.encode(0, push(i));
            // Every frame the same size, so a count of bytes is a count of frames.
            if (size >= 0 && f.length != size) {
                throw new IllegalStateException("frame sizes differ");
            }
            size = f.length;
            out.writeBytes(f);
        }
        return out.toByteArray();
    }

    /** The block of distinct frames the stream replays, back to back. */
    byte[] block() {
        return block;
    }

    /** Size of one frame on the wire. */
    int frameSize() {
        return block.length / BLOCK_FRAMES;
    }

    /** read() calls that returned data. */
    long reads() {
        return reads;
    }

    @Override
    public int read() {
        throw new UnsupportedOperationException("a frame reader reads in chunks");
    }

    @Override
    public int read(byte[] b, int off, int len) {
        if (served >= total) {
            return -1;
        }
        int n = (int) Math.min(Math.min(len, 64 * 1024), Math.min(total - served, block.length - pos));
        System.arraycopy(block, pos, b, off, n);
        pos = (pos + n) % block.length;
        served += n;
        reads++;
        return n;
    }

    /** Bytes the current thread has allocated so far. */
    static long allocated() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean())
                .getThreadAllocatedBytes(Thread.currentThread().getId());
    }

    /** Reads and decodes every push of {@code in}; returns a checksum so the work cannot be optimised away. */
    static long drain(FrameReader r) throws java.io.IOException {
        long sum = 0;
        while (r.next()) {
            Push p = (Push) r.body();
            sum += p.offset() + p.data()[p.data().length - 1] + p.room().length() + p.id().length() + p.epoch().length();
        }
        return sum;
    }
}
