package io.github.quicpush.client.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** What the vectors do not pin: encoder checks, unsigned fields, names of unknown values. */
class FramesTest {
    private static final HexFormat HEX = HexFormat.of();

    private static Body decode(String hex) throws WireException {
        byte[] b = HEX.parseHex(hex);
        return Frames.decode(b, 0, b.length, 0).body();
    }

    @Test
    void codesAreUnsignedSixteenBits() throws WireException {
        assertEquals(new RequestError(0xffff, ""), decode("000000080a00000005ffff00"));
        assertEquals(new Disconnect(0x8000, ""), decode("000000080b000000008000" + "00"));
        assertTrue(Codes.reconnect(0xffff));
    }

    @Test
    void offsetsAndFlagsAreUnsignedSixtyFourBits() throws WireException {
        Push p = (Push) decode("0000002209000000000100036d2d31ffffffffffffffffff01000178ffffffffffffffffff01");
        assertEquals("18446744073709551615", Long.toUnsignedString(p.offset()));
        assertTrue(Long.compareUnsigned(p.offset(), Long.MAX_VALUE) > 0);
        assertTrue(p.ephemeral(), "unknown flag bits are kept, bit 0 still read");
        assertEquals(-1L, p.flags());
    }

    @Test
    void encoderRejectsWhatAPeerWouldCloseTheConnectionFor() {
        String room256 = "r".repeat(256);
        assertThrows(IllegalArgumentException.class, () -> Frames.encode(1, new Join(room256)));
        assertThrows(IllegalArgumentException.class, () -> Frames.encode(1, new Leave("я".repeat(128))));
        assertThrows(IllegalArgumentException.class, () -> Frames.encode(1, new Auth("t".repeat(8193))));
        assertThrows(IllegalArgumentException.class, () -> Frames.encode(1, new Refresh("t".repeat(8193))));
        assertThrows(IllegalArgumentException.class,
                () -> Frames.encode(0, new Push(3, "", "m", 0, "", new byte[0], 0)));
        assertThrows(IllegalArgumentException.class, () -> Frames.encode(1, new JoinOk("r", 3, 0, "")));
        assertThrows(IllegalArgumentException.class, () -> Frames.encode(1, new RequestError(65536, "")));
        assertThrows(IllegalArgumentException.class, () -> Frames.encode(0, new Disconnect(-1, "")));
        // At the limits exactly: accepted.
        Frames.encode(1, new Join("r".repeat(255)));
        Frames.encode(1, new Auth("t".repeat(8192)));
        Frames.encode(0, new Disconnect(65535, "x".repeat(60000)));
    }

    @Test
    void invalidUtf8IsDecodedNotRejected() throws WireException {
        Leave l = (Leave) decode("000000080700000004" + "02ffc3");
        assertEquals(2, l.room().length());
        assertEquals('\uFFFD', l.room().charAt(0));
    }

    @Test
    void decodeWantsExactlyOneFrame() {
        byte[] ping = Frames.encode(1, new Ping());
        byte[] two = new byte[ping.length * 2];
        System.arraycopy(ping, 0, two, 0, ping.length);
        System.arraycopy(ping, 0, two, ping.length, ping.length);
        assertEquals(WireException.Kind.MALFORMED,
                assertThrows(WireException.class, () -> Frames.decode(two, 0, two.length, 0)).kind());
        assertEquals(WireException.Kind.MALFORMED,
                assertThrows(WireException.class, () -> Frames.decode(ping, 0, 8, 0)).kind());
        assertThrows(IndexOutOfBoundsException.class, () -> Frames.decode(ping, 1, ping.length, 0));
    }

    @Test
    void namesOfUnknownValues() {
        assertEquals("code 4000", Codes.name(4000));
        assertEquals("op(255)", Op.name(255));
        assertFalse(Op.known(-1));
        assertEquals("not recovered", Recovery.name(Recovery.NOT_RECOVERED));
        assertEquals("recovery(7)", Recovery.name(7));
    }

    @Test
    void pushEqualityComparesThePayload() {
        Push a = new Push(Push.KIND_ROOM, "r", "m", 1, "e", new byte[] {1, 2}, 0);
        Push b = new Push(Push.KIND_ROOM, "r", "m", 1, "e", new byte[] {1, 2}, 0);
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        assertFalse(a.equals(new Push(Push.KIND_ROOM, "r", "m", 1, "e", new byte[] {1, 3}, 0)));
        assertTrue(a.toString().contains("2 bytes"));
    }
}
