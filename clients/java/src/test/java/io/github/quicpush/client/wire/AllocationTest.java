package io.github.quicpush.client.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import org.junit.jupiter.api.Test;

/**
 * A regression guard on what decoding a push costs in memory and reads. Allocation is deterministic (unlike time),
 * so a bound holds on any machine: the Push, its message id and the payload copy the application owns come to 216
 * bytes on a 64-bit JVM with compressed pointers (docs/codec-cost.md). The bound leaves room for another layout,
 * but not for decoding the room and epoch again for every push (320 bytes) or for a copy of the frame.
 */
class AllocationTest {
    private static final long BOUND_PER_PUSH = 280;

    @Test
    void decodingAPushAllocatesOnlyWhatTheApplicationKeeps() throws IOException {
        PushStream.drain(new FrameReader(new PushStream(100_000), 0));

        long n = 200_000;
        PushStream in = new PushStream(n);
        FrameReader r = new FrameReader(in, 0);
        long before = PushStream.allocated();
        long frames = 0;
        byte[] buffer = null;
        while (r.next()) {
            Push p = (Push) r.body();
            assertEquals(PushStream.PAYLOAD, p.data().length);
            if (buffer == null) {
                buffer = r.buffer();
            }
            frames++;
        }
        long perPush = (PushStream.allocated() - before) / n;
        assertEquals(n, frames);
        assertSame(buffer, r.buffer(), "the reader keeps one buffer");
        assertTrue(perPush <= BOUND_PER_PUSH, perPush + " bytes allocated per push, bound " + BOUND_PER_PUSH);
        // Many frames per read: the reader asks for large chunks, not one frame's worth.
        assertTrue(in.reads() * 50 < n, in.reads() + " reads for " + n + " pushes");
    }

    @Test
    void theBufferGrowsOnlyToTheLargestFrame() throws IOException {
        byte[] big = Frames.encode(0, new Push(Push.KIND_BROADCAST, "", "m", 0, "", new byte[Limits.MAX_FRAME - 40], 0));
        byte[] small = Frames.encode(0, new Ping());
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        out.writeBytes(small);
        out.writeBytes(big);
        out.writeBytes(small);
        FrameReader r = new FrameReader(ChunkedInput.whole(out.toByteArray()), 0);
        assertTrue(r.next());
        assertEquals(FrameReader.INITIAL, r.buffer().length);
        assertTrue(r.next());
        assertTrue(r.buffer().length <= Limits.MAX_FRAME, "buffer of " + r.buffer().length);
        assertTrue(r.next());
        assertTrue(!r.next());
    }
}
