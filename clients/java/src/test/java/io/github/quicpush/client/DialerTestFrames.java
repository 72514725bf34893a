package io.github.quicpush.client;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The handful of frames the transport tests need, encoded by hand (docs/protocol.md sections 3-5) so that these
 * tests do not depend on the client's codec, and a reader thread that turns the frame stream into a queue.
 */
final class DialerTestFrames {

    static final int AUTH = 0x01;
    static final int AUTH_OK = 0x02;
    static final int JOIN = 0x05;
    static final int JOIN_OK = 0x06;
    static final int PUSH = 0x09;
    static final int DISCONNECT = 0x0B;

    private DialerTestFrames() {}

    /** One decoded frame header and its raw body. */
    record Frame(int op, int seq, byte[] body) {
        /** The first field of the body as a {@code str}: AuthOK's conn_key, JoinOK's room. */
        String firstStr() {
            ByteBuffer b = ByteBuffer.wrap(body);
            return str(b);
        }
    }

    static byte[] auth(int seq, String token) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        uvarint(body, 1);
        str(body, token);
        return frame(AUTH, seq, body.toByteArray());
    }

    static byte[] join(int seq, String room) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        str(body, room);
        uvarint(body, 0);
        str(body, "");
        return frame(JOIN, seq, body.toByteArray());
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    static byte[] frame(int op, int seq, byte[] body) {
        ByteBuffer b = ByteBuffer.allocate(9 + body.length);
        b.putInt(5 + body.length).put((byte) op).putInt(seq).put(body);
        return b.array();
    }

    /** Decodes one whole frame (a datagram). */
    static Frame decode(byte[] whole) {
        ByteBuffer b = ByteBuffer.wrap(whole);
        int len = b.getInt();
        int op = b.get() & 0xff;
        int seq = b.getInt();
        byte[] body = new byte[len - 5];
        b.get(body);
        return new Frame(op, seq, body);
    }

    /** A Push frame's data field (kind u8, room str, id str, offset uvarint, epoch str, data bytes). */
    static byte[] pushData(Frame push) {
        ByteBuffer b = ByteBuffer.wrap(push.body());
        b.get();
        str(b);
        str(b);
        uvarint(b);
        str(b);
        int n = (int) uvarint(b);
        byte[] d = new byte[n];
        b.get(d);
        return d;
    }

    static Frame read(InputStream in) throws IOException {
        DataInputStream d = new DataInputStream(in);
        int len = d.readInt();
        if (len < 5 || len > 1 << 20) {
            throw new IOException("bad frame length " + len);
        }
        int op = d.readUnsignedByte();
        int seq = d.readInt();
        byte[] body = new byte[len - 5];
        d.readFully(body);
        return new Frame(op, seq, body);
    }

    private static void uvarint(ByteArrayOutputStream out, long v) {
        while ((v & ~0x7fL) != 0) {
            out.write((int) ((v & 0x7f) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }

    private static void str(ByteArrayOutputStream out, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        uvarint(out, b.length);
        out.writeBytes(b);
    }

    private static long uvarint(ByteBuffer b) {
        long v = 0;
        for (int shift = 0; ; shift += 7) {
            int x = b.get() & 0xff;
            v |= (long) (x & 0x7f) << shift;
            if (x < 0x80) {
                return v;
            }
        }
    }

    private static String str(ByteBuffer b) {
        byte[] s = new byte[(int) uvarint(b)];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }

    /** Reads frames from a transport on a daemon thread; the end of the stream is a frame with op -1. */
    static final class Reader {
        private final BlockingQueue<Frame> frames = new LinkedBlockingQueue<>();

        Reader(Transport t) {
            Thread th = new Thread(() -> {
                try {
                    while (true) {
                        frames.add(read(t.in()));
                    }
                } catch (EOFException e) {
                    frames.add(new Frame(-1, 0, new byte[0]));
                } catch (IOException | RuntimeException e) {
                    frames.add(new Frame(-1, 0, String.valueOf(e).getBytes(StandardCharsets.UTF_8)));
                }
            }, "test-frame-reader");
            th.setDaemon(true);
            th.start();
        }

        /** The next frame with {@code op}, skipping others; fails on timeout or the end of the stream. */
        Frame await(int op, Duration timeout) throws InterruptedException, IOException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                Frame f = frames.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
                if (f == null) {
                    throw new IOException("no frame of op " + op + " within " + timeout);
                }
                if (f.op() == op) {
                    return f;
                }
                if (f.op() == -1 && op != -1) {
                    throw new IOException("stream ended while waiting for op " + op + ": "
                            + new String(f.body(), StandardCharsets.UTF_8));
                }
            }
        }
    }
}
