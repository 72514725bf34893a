package io.github.quicpush.client.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class FrameReaderTest {

    private static byte[] concat(byte[]... frames) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] f : frames) {
            out.writeBytes(f);
        }
        return out.toByteArray();
    }

    @Test
    void rejectsAnOversizedFrameOnItsHeaderWithoutWaitingForTheBody() throws IOException {
        byte[] header = Arrays.copyOf(Frames.encode(0, new Push(Push.KIND_ROOM, "r", "m", 0, "", new byte[100], 0)),
                Limits.HEADER);
        // The header arrives, and the body never would: a second read fails the test.
        InputStream in = new InputStream() {
            private boolean sent;

            @Override
            public int read() {
                throw new AssertionError("single-byte read");
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (sent) {
                    throw new AssertionError("the reader waited for the body of a frame over its limit");
                }
                sent = true;
                System.arraycopy(header, 0, b, off, header.length);
                return header.length;
            }
        };
        FrameReader r = new FrameReader(in, 64);
        WireException e = assertThrows(WireException.class, r::next);
        assertEquals(WireException.Kind.TOO_LARGE, e.kind());
        assertEquals(Codes.FRAME_TOO_LARGE, e.code());
    }

    @Test
    void aNewLimitAppliesFromTheNextFrame() throws IOException {
        byte[] join = Frames.encode(2, new Join("news"));
        FrameReader r = new FrameReader(ChunkedInput.whole(concat(join, join, join)), Limits.MAX_AUTH_FRAME);
        assertTrue(r.next());
        r.maxFrame(join.length);
        assertTrue(r.next(), "a frame exactly at the limit is accepted");
        r.maxFrame(join.length - 1);
        assertEquals(WireException.Kind.TOO_LARGE, assertThrows(WireException.class, r::next).kind());
    }

    @Test
    void skipsUndefinedOpsByTheirLength() throws IOException {
        byte[] unknown = CodecProperties.frame(0x20, 9, new byte[] {1, 2, 3});
        byte[] zero = CodecProperties.frame(0x00, 0, new byte[0]);
        byte[] pong = Frames.encode(7, new Pong());
        FrameReader r = new FrameReader(ChunkedInput.oneByte(concat(unknown, zero, pong)), 0);
        assertTrue(r.next());
        assertEquals(0x20, r.op());
        assertEquals(3, r.bodyLength());
        assertNull(r.body());
        assertTrue(r.next());
        assertNull(r.body());
        assertTrue(r.next());
        assertEquals(new Pong(), r.body());
        assertEquals(7, r.seq());
        assertFalse(r.next());
    }

    @Test
    void tellsACleanEndFromAnEndInsideAFrame() throws IOException {
        byte[] ping = Frames.encode(1, new Ping());
        assertFalse(new FrameReader(ChunkedInput.whole(new byte[0]), 0).next());
        for (int cut = 1; cut < ping.length; cut++) {
            FrameReader r = new FrameReader(ChunkedInput.oneByte(Arrays.copyOf(ping, cut)), 0);
            assertThrows(EOFException.class, r::next, "cut at " + cut);
        }
        byte[] push = Frames.encode(0, new Push(Push.KIND_DIRECT, "", "m", 0, "", new byte[40000], 0));
        FrameReader r = new FrameReader(ChunkedInput.whole(concat(ping, Arrays.copyOf(push, push.length - 1))), 0);
        assertTrue(r.next());
        assertThrows(EOFException.class, r::next);
    }

    @Test
    void seqIsUnsignedThirtyTwoBitsInAnInt() throws IOException {
        FrameReader r = new FrameReader(ChunkedInput.whole(Frames.encode(-1, new Ping())), 0);
        assertTrue(r.next());
        assertEquals(4294967295L, Integer.toUnsignedLong(r.seq()));
    }

    @Test
    void accessorsNeedACurrentFrame() throws IOException {
        FrameReader r = new FrameReader(ChunkedInput.whole(new byte[0]), 0);
        assertThrows(IllegalStateException.class, r::op);
        assertFalse(r.next());
        assertThrows(IllegalStateException.class, r::body);
    }
}
