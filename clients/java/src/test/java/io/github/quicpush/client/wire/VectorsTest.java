package io.github.quicpush.client.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.EOFException;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** Every vector of docs/protocol-vectors.json, against this codec. */
class VectorsTest {

    private static List<JsonNode> list(String section) {
        List<JsonNode> out = new ArrayList<>();
        Vectors.section(section).forEach(out::add);
        return out;
    }

    private static Map<String, JsonNode> framesByName() {
        Map<String, JsonNode> m = new HashMap<>();
        for (JsonNode v : list("frames")) {
            m.put(v.get("name").asText(), v);
        }
        return m;
    }

    @TestFactory
    List<DynamicTest> frames() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode v : list("frames")) {
            tests.add(dynamicTest(v.get("name").asText(), () -> {
                String opName = v.get("op").asText();
                int seq = (int) Vectors.u64(v.get("seq"));
                Body want = Vectors.body(opName, v.get("fields"));
                byte[] hex = Vectors.hex(v);
                assertEquals(opName, Op.name(want.op()));

                Frames.Decoded d = Frames.decode(hex, 0, hex.length, Limits.MAX_FRAME);
                assertEquals(want.op(), d.op(), "op");
                assertEquals(seq, d.seq(), "seq");
                assertEquals(want, d.body(), "decoded fields");

                // The same frame inside a larger array, at an offset.
                byte[] padded = new byte[hex.length + 7];
                System.arraycopy(hex, 0, padded, 3, hex.length);
                assertEquals(want, Frames.decode(padded, 3, hex.length, 0).body());

                if (!v.path("decode_only").asBoolean(false)) {
                    assertEquals(Vectors.HEX.formatHex(hex), Vectors.HEX.formatHex(Frames.encode(seq, want)),
                            "encoded hex");
                    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
                    out.write(0x55);
                    Frames.encode(out, seq, want);
                    byte[] appended = out.toByteArray();
                    assertArrayEquals(hex, Arrays.copyOfRange(appended, 1, appended.length), "appended frame");
                }
            }));
        }
        return tests;
    }

    @TestFactory
    List<DynamicTest> streams() {
        Map<String, JsonNode> frames = framesByName();
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode v : list("streams")) {
            byte[] hex = Vectors.hex(v);
            Map<String, Function<byte[], ChunkedInput>> feeds = Map.of(
                    "whole", ChunkedInput::whole, "one byte per read", ChunkedInput::oneByte);
            for (Map.Entry<String, Function<byte[], ChunkedInput>> feed : feeds.entrySet()) {
                tests.add(dynamicTest(v.get("name").asText() + ", " + feed.getKey(), () -> {
                    FrameReader r = new FrameReader(feed.getValue().apply(hex), Limits.MAX_FRAME);
                    int at = 0;
                    for (JsonNode name : v.get("frames")) {
                        JsonNode f = frames.get(name.asText());
                        assertNotNull(f, "stream names an unknown frame " + name);
                        byte[] want = Vectors.hex(f);
                        assertTrue(r.next(), "frame " + name + " missing");
                        assertEquals(want.length - Limits.HEADER, r.bodyLength(), name.asText());
                        assertArrayEquals(Arrays.copyOfRange(want, Limits.HEADER, want.length),
                                Arrays.copyOfRange(r.buffer(), r.bodyOffset(), r.bodyOffset() + r.bodyLength()));
                        assertEquals(Vectors.body(f.get("op").asText(), f.get("fields")), r.body(), name.asText());
                        assertEquals((int) Vectors.u64(f.get("seq")), r.seq());
                        at += want.length;
                    }
                    int tail = v.get("incomplete_tail").asInt();
                    assertEquals(hex.length - at, tail, "incomplete_tail");
                    if (tail > 0) {
                        assertThrows(EOFException.class, r::next);
                    } else {
                        assertFalse(r.next(), "the stream ends between frames");
                    }
                }));
            }
        }
        return tests;
    }

    @TestFactory
    List<DynamicTest> invalid() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode v : list("invalid")) {
            tests.add(dynamicTest(v.get("name").asText(), () -> {
                byte[] hex = Vectors.hex(v);
                int max = v.get("max_frame").asInt();
                WireException.Kind want = switch (v.get("error").asText()) {
                    case "malformed" -> WireException.Kind.MALFORMED;
                    case "too_large" -> WireException.Kind.TOO_LARGE;
                    default -> throw new AssertionError("unknown error kind " + v.get("error"));
                };
                WireException e = assertThrows(WireException.class, () -> Frames.decode(hex, 0, hex.length, max));
                assertEquals(want, e.kind(), e.getMessage());

                // On a stream the reader rejects the header, or delivers the frame and its body fails.
                FrameReader r = new FrameReader(ChunkedInput.oneByte(hex), max);
                WireException es = assertThrows(WireException.class, () -> {
                    if (!r.next()) {
                        fail("no frame");
                    }
                    r.body();
                });
                assertEquals(want, es.kind(), es.getMessage());
            }));
        }
        return tests;
    }

    @Test
    void ops() throws IOException, IllegalAccessException {
        JsonNode ops = Vectors.section("ops");
        TreeSet<Integer> seen = new TreeSet<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = ops.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            int op = e.getValue().asInt();
            assertEquals(e.getKey(), Op.name(op));
            assertTrue(Op.known(op));
            try {
                assertEquals(op, Op.class.getField(e.getKey().toUpperCase(java.util.Locale.ROOT)).getInt(null));
            } catch (NoSuchFieldException x) {
                fail("Op has no constant for " + e.getKey());
            }
            seen.add(op);
        }
        assertEquals(publicInts(Op.class).size(), seen.size(), "Op constants the vectors do not list");
        assertFalse(Op.known(0));
        assertFalse(Op.known(0x14));
        assertEquals("op(20)", Op.name(0x14));
    }

    @Test
    void codes() throws IllegalAccessException {
        JsonNode codes = Vectors.section("codes");
        TreeSet<Integer> seen = new TreeSet<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = codes.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            assertEquals(e.getKey(), Codes.name(e.getValue().asInt()));
            seen.add(e.getValue().asInt());
        }
        TreeSet<Integer> mine = new TreeSet<>();
        for (Field f : publicInts(Codes.class)) {
            if (!f.getName().endsWith("_MIN") && !f.getName().endsWith("_MAX")) {
                mine.add(f.getInt(null));
            }
        }
        assertEquals(seen, mine, "Codes constants and the vectors' codes");
        assertEquals("code 3999", Codes.name(3999));
    }

    @Test
    void codeRanges() {
        JsonNode ranges = Vectors.section("code_ranges");
        JsonNode reconnect = ranges.get("reconnect");
        JsonNode stop = ranges.get("stop");
        JsonNode requests = ranges.get("request_errors");
        assertEquals(Codes.RECONNECT_MIN, reconnect.get(0).asInt());
        assertEquals(Codes.RECONNECT_MAX, reconnect.get(1).asInt());
        assertEquals(Codes.STOP_MIN, stop.get(0).asInt());
        assertEquals(Codes.STOP_MAX, stop.get(1).asInt());
        assertEquals(Codes.BAD_REQUEST, requests.get(0).asInt());
        assertEquals(Codes.TOKEN_REJECTED, requests.get(1).asInt());
        for (int c = reconnect.get(0).asInt(); c <= reconnect.get(1).asInt(); c++) {
            assertTrue(Codes.reconnect(c), "code " + c);
        }
        for (int c = stop.get(0).asInt(); c <= stop.get(1).asInt(); c++) {
            assertFalse(Codes.reconnect(c), "code " + c);
        }
        // No code, or one outside both ranges: a network failure, reconnected.
        for (int c : new int[] {0, 1000, 2999, 4000, 65535, Codes.BAD_REQUEST}) {
            assertTrue(Codes.reconnect(c), "code " + c);
        }
    }

    @Test
    void limits() {
        JsonNode l = Vectors.section("limits");
        assertEquals(5, l.size(), "limits the test does not check: " + l);
        assertEquals(Limits.HEADER, l.get("header_size").asInt());
        assertEquals(Limits.MAX_FRAME, l.get("max_frame").asInt());
        assertEquals(Limits.MAX_NAME, l.get("max_room_len").asInt());
        assertEquals(Limits.MAX_TOKEN, l.get("max_token_len").asInt());
        assertEquals(Limits.MAX_AUTH_FRAME, l.get("max_auth_frame").asInt());
        assertEquals(Limits.VERSION, Vectors.root().get("version").asInt());
        assertEquals(Limits.REVISION, Vectors.root().get("revision").asInt());
        // The largest well-formed Auth is exactly the limit before AuthOK.
        String token = "t".repeat(Limits.MAX_TOKEN);
        String epoch = "e".repeat(Limits.MAX_NAME);
        assertEquals(Limits.MAX_AUTH_FRAME, Frames.encode(1, new Auth(-1L, token, -1L, epoch, -1L)).length);
    }

    @Test
    void datagrams() throws WireException {
        Map<String, JsonNode> frames = framesByName();
        byte[] ephemeral = Vectors.hex(frames.get("push_ephemeral_room"));
        Push p = Frames.decodeDatagram(ephemeral, 0, ephemeral.length, Limits.MAX_FRAME);
        assertTrue(p.ephemeral());
        assertEquals("pos", p.room());

        byte[] reliable = Vectors.hex(frames.get("push_room"));
        assertDatagramRejected(reliable, WireException.Kind.MALFORMED);
        assertDatagramRejected(Vectors.hex(frames.get("pong")), WireException.Kind.MALFORMED);
        assertDatagramRejected(Arrays.copyOf(ephemeral, ephemeral.length + 1), WireException.Kind.MALFORMED);
        assertDatagramRejected(Arrays.copyOf(ephemeral, ephemeral.length - 1), WireException.Kind.MALFORMED);
        WireException e = assertThrows(WireException.class,
                () -> Frames.decodeDatagram(ephemeral, 0, ephemeral.length, ephemeral.length - 1));
        assertEquals(WireException.Kind.TOO_LARGE, e.kind());
    }

    private static void assertDatagramRejected(byte[] b, WireException.Kind kind) {
        WireException e = assertThrows(WireException.class,
                () -> Frames.decodeDatagram(b, 0, b.length, Limits.MAX_FRAME));
        assertEquals(kind, e.kind(), e.getMessage());
    }

    private static List<Field> publicInts(Class<?> c) {
        List<Field> out = new ArrayList<>();
        for (Field f : c.getFields()) {
            int m = f.getModifiers();
            if (Modifier.isStatic(m) && Modifier.isFinal(m) && f.getType() == int.class) {
                out.add(f);
            }
        }
        return out;
    }
}
