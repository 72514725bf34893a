package io.github.quicpush.client.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.From;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Properties of the codec: arbitrary input only ever fails with the documented errors, every body survives an
 * encode and decode, and damaged frames are rejected or read as some valid frame, never anything else.
 */
class CodecProperties {

    /** What a decoder may do with bytes it cannot read; anything else thrown is a defect. */
    private interface Decoding {
        void run() throws Exception;
    }

    private static void onlyDocumentedErrors(Decoding d) {
        try {
            d.run();
        } catch (WireException | EOFException expected) {
            // The two documented outcomes of bad input.
        } catch (Throwable t) {
            fail("undocumented failure: " + t, t);
        }
    }

    /** Reads every frame of a stream and decodes its body, checking what a successful read hands out. */
    private static int readAll(FrameReader r, int maxFrame) throws Exception {
        int n = 0;
        while (r.next()) {
            assertTrue(r.bodyLength() >= 0 && r.bodyLength() + Limits.HEADER <= maxFrame);
            assertTrue(r.bodyOffset() + r.bodyLength() <= r.buffer().length);
            Body b = r.body();
            if (b != null) {
                assertEquals(r.op(), b.op());
            } else {
                assertFalse(Op.known(r.op()));
            }
            n++;
        }
        return n;
    }

    // (a) Arbitrary bytes.

    @Provide
    Arbitrary<byte[]> junk() {
        Arbitrary<byte[]> raw = Arbitraries.bytes().array(byte[].class).ofMaxSize(300);
        // Bytes behind a header that announces them, so bodies are reached and not just lengths rejected.
        Arbitrary<byte[]> framed = net.jqwik.api.Combinators.combine(
                        Arbitraries.integers().between(0, 20), Arbitraries.integers(),
                        Arbitraries.bytes().array(byte[].class).ofMaxSize(300))
                .as((op, seq, body) -> frame(op, seq, body));
        // Bodies biased to the bytes that matter to uvarints and lengths (continuation bits, 0, 1, 0xff).
        Arbitrary<byte[]> edgy = net.jqwik.api.Combinators.combine(
                        Arbitraries.integers().between(0, 20), Arbitraries.integers(),
                        Arbitraries.of((byte) 0, (byte) 1, (byte) 2, (byte) 0x7f, (byte) 0x80, (byte) 0x81, (byte) 0xff)
                                .list().ofMaxSize(40))
                .as((op, seq, body) -> {
                    byte[] b = new byte[body.size()];
                    for (int i = 0; i < b.length; i++) {
                        b[i] = body.get(i);
                    }
                    return frame(op, seq, b);
                });
        return Arbitraries.oneOf(List.of(raw, framed, edgy));
    }

    static byte[] frame(int op, int seq, byte[] body) {
        byte[] f = new byte[Limits.HEADER + body.length];
        int len = body.length + 5;
        f[0] = (byte) (len >>> 24);
        f[1] = (byte) (len >>> 16);
        f[2] = (byte) (len >>> 8);
        f[3] = (byte) len;
        f[4] = (byte) op;
        f[5] = (byte) (seq >>> 24);
        f[6] = (byte) (seq >>> 16);
        f[7] = (byte) (seq >>> 8);
        f[8] = (byte) seq;
        System.arraycopy(body, 0, f, Limits.HEADER, body.length);
        return f;
    }

    @Property(tries = 5000)
    void arbitraryBytesDecodeOrFailAsDocumented(@ForAll("junk") byte[] b,
            @ForAll @IntRange(min = 0, max = 400) int maxFrame) {
        onlyDocumentedErrors(() -> {
            Frames.Decoded d = Frames.decode(b, 0, b.length, maxFrame);
            if (d.body() != null) {
                assertEquals(d.op(), d.body().op());
            }
        });
        onlyDocumentedErrors(() -> Frames.decodeDatagram(b, 0, b.length, maxFrame));
        for (int op = 0; op <= 0x15; op++) {
            int o = op;
            onlyDocumentedErrors(() -> Frames.decodeBody(o, b, 0, b.length));
        }
    }

    @Property(tries = 2000)
    void arbitraryStreamsInArbitraryChunks(@ForAll @Size(max = 8) List<@From("junk") byte[]> parts,
            @ForAll @Size(min = 1, max = 20) List<@IntRange(min = 1, max = 64) Integer> chunks,
            @ForAll @IntRange(min = 9, max = 400) int maxFrame) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        parts.forEach(out::writeBytes);
        byte[] stream = out.toByteArray();
        onlyDocumentedErrors(() -> readAll(
                new FrameReader(new ChunkedInput(stream, i -> chunks.get(i % chunks.size())), maxFrame), maxFrame));
    }

    /**
     * A member list whose count is forged: more members than a third of the bytes left is malformed before
     * anything is allocated for them; any other count decodes or fails as documented.
     */
    @Property(tries = 2000)
    void forgedMemberCountsAreRejected(@ForAll("u64s") long count,
            @ForAll @Size(max = 64) List<@IntRange(min = 0, max = 255) Integer> rest) {
        for (int op : new int[] {Op.JOIN_LEAVE, Op.PRESENCE_OK}) {
            java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
            b.write(1);
            b.write('r'); // room "r"
            if (op == Op.PRESENCE_OK) {
                b.write(0); // conns
                b.write(0); // users
                b.write(0); // complete
            }
            for (long v = count; ; v >>>= 7) { // count as a uvarint
                if ((v & ~0x7fL) == 0) {
                    b.write((int) v);
                    break;
                }
                b.write((int) (v & 0x7f | 0x80));
            }
            int left = rest.size();
            rest.forEach(b::write);
            byte[] body = b.toByteArray();
            if (Long.compareUnsigned(count, left / 3) > 0) {
                WireException e = org.junit.jupiter.api.Assertions.assertThrows(WireException.class,
                        () -> Frames.decodeBody(op, body, 0, body.length));
                assertEquals(WireException.Kind.MALFORMED, e.kind());
            } else {
                onlyDocumentedErrors(() -> Frames.decodeBody(op, body, 0, body.length));
            }
        }
    }

    @Provide
    Arbitrary<Long> u64s() {
        return Arbitraries.oneOf(List.of(Generators.u64(), Arbitraries.longs().between(0, 30)));
    }

    // (b) Round trips.

    @Provide
    Arbitrary<Body> bodies() {
        return Generators.bodies();
    }

    @Provide
    Arbitrary<Integer> seqs() {
        return Generators.seqs();
    }

    @Property(tries = 3000)
    void everyBodyRoundTrips(@ForAll("bodies") Body body, @ForAll("seqs") int seq) throws WireException {
        byte[] f = Frames.encode(seq, body);
        Frames.Decoded d = Frames.decode(f, 0, f.length, Limits.MAX_FRAME);
        assertEquals(body.op(), d.op());
        assertEquals(seq, d.seq());
        assertEquals(body, d.body());
    }

    @Property(tries = 500)
    void streamsOfBodiesRoundTripInAnyChunking(@ForAll @Size(max = 12) List<@From("bodies") Body> bodies,
            @ForAll @Size(min = 1, max = 10) List<@IntRange(min = 1, max = 5000) Integer> chunks) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < bodies.size(); i++) {
            Frames.encode(out, i + 1, bodies.get(i));
        }
        FrameReader r = new FrameReader(new ChunkedInput(out.toByteArray(), i -> chunks.get(i % chunks.size())), 0);
        for (int i = 0; i < bodies.size(); i++) {
            assertTrue(r.next());
            assertEquals(i + 1, r.seq());
            assertEquals(bodies.get(i), r.body());
        }
        assertFalse(r.next());
    }

    // (c) Damaged frames.

    @Provide
    Arbitrary<byte[]> damaged() {
        Arbitrary<byte[]> valid = net.jqwik.api.Combinators.combine(Generators.bodies(), Generators.seqs())
                .as((b, s) -> Frames.encode(s, b));
        return net.jqwik.api.Combinators.combine(valid, Arbitraries.integers().between(0, 4),
                        Arbitraries.integers().greaterOrEqual(0), Arbitraries.integers())
                .as(CodecProperties::damage);
    }

    /** One damage to a valid frame: a bit flip, a truncation, a length edit, a byte dropped or added. */
    static byte[] damage(byte[] f, int how, int where, int value) {
        int at = where % f.length;
        byte[] d;
        switch (how) {
            case 0 -> {
                d = f.clone();
                d[at] ^= (byte) (1 << (value & 7));
            }
            case 1 -> d = java.util.Arrays.copyOf(f, at);
            case 2 -> {
                d = f.clone();
                // A length off by a little (most interesting) or anything at all.
                int len = (value & 1) == 0 ? f.length - 4 + (value >> 1) % 16 : value;
                d[0] = (byte) (len >>> 24);
                d[1] = (byte) (len >>> 16);
                d[2] = (byte) (len >>> 8);
                d[3] = (byte) len;
            }
            case 3 -> {
                d = new byte[f.length - 1];
                System.arraycopy(f, 0, d, 0, at);
                System.arraycopy(f, at + 1, d, at, f.length - at - 1);
            }
            default -> {
                d = new byte[f.length + 1];
                System.arraycopy(f, 0, d, 0, at);
                d[at] = (byte) value;
                System.arraycopy(f, at, d, at + 1, f.length - at);
            }
        }
        return d;
    }

    @Property(tries = 5000)
    void damagedFramesAreRejectedOrReadAsValidFrames(@ForAll("damaged") byte[] d) {
        onlyDocumentedErrors(() -> {
            Frames.Decoded dec = Frames.decode(d, 0, d.length, Limits.MAX_FRAME);
            assertNotNull(dec);
            if (dec.body() != null) {
                assertEquals(dec.op(), dec.body().op());
            }
        });
        onlyDocumentedErrors(() -> readAll(new FrameReader(ChunkedInput.oneByte(d), 0), Limits.MAX_FRAME));
        onlyDocumentedErrors(() -> readAll(new FrameReader(ChunkedInput.whole(d), 0), Limits.MAX_FRAME));
    }
}
