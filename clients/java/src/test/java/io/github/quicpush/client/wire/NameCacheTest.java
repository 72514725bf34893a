package io.github.quicpush.client.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The cache of pushes' rooms and epochs changes what decoding allocates, never what it returns. */
class NameCacheTest {

    @Test
    void collidingNamesStayApart() {
        NameCache c = new NameCache();
        // "Aa" and "BB" have the same 31-based hash, so they share a slot.
        byte[] aa = "Aa".getBytes(StandardCharsets.UTF_8);
        byte[] bb = "BB".getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < 3; i++) {
            assertEquals("Aa", c.get(aa, 0, 2));
            assertEquals("BB", c.get(bb, 0, 2));
        }
        byte[] framed = "xxAaxx".getBytes(StandardCharsets.UTF_8);
        String first = c.get(framed, 2, 2);
        assertEquals("Aa", first);
        assertSame(first, c.get(framed, 2, 2), "a repeated name is shared");
        assertEquals("A", c.get(framed, 2, 1), "a prefix is another name");
    }

    @Test
    void invalidUtf8DecodesAsWithoutTheCache() throws Exception {
        byte[] bad = {(byte) 0xff, 'r', (byte) 0xc3};
        String plain = new String(bad, StandardCharsets.UTF_8);
        assertEquals(plain, new NameCache().get(bad, 0, bad.length));

        // Through a reader: the same raw room bytes in two pushes, then a colliding room.
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] room : new byte[][] {bad, bad, "Aa".getBytes(StandardCharsets.UTF_8), "BB".getBytes(StandardCharsets.UTF_8)}) {
            byte[] body = new byte[1 + 1 + room.length + 1 + 1 + 1 + 1];
            int i = 0;
            body[i++] = Push.KIND_ROOM;
            body[i++] = (byte) room.length;
            System.arraycopy(room, 0, body, i, room.length);
            i += room.length;
            body[i++] = 0; // id ""
            body[i++] = 0; // offset
            body[i++] = 0; // epoch ""
            body[i] = 0; // data
            out.writeBytes(CodecProperties.frame(Op.PUSH, 0, body));
        }
        FrameReader r = new FrameReader(ChunkedInput.whole(out.toByteArray()), 0);
        for (String want : new String[] {plain, plain, "Aa", "BB"}) {
            r.next();
            assertEquals(want, ((Push) r.body()).room());
        }
    }
}
