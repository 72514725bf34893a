package io.github.quicpush.client;

import io.github.quicpush.client.wire.Auth;
import io.github.quicpush.client.wire.AuthOk;
import io.github.quicpush.client.wire.Body;
import io.github.quicpush.client.wire.FrameReader;
import io.github.quicpush.client.wire.Frames;
import io.github.quicpush.client.wire.Join;
import io.github.quicpush.client.wire.JoinOk;
import io.github.quicpush.client.wire.Limits;
import io.github.quicpush.client.wire.Op;
import io.github.quicpush.client.wire.Push;
import io.github.quicpush.client.wire.WireException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/** The few frames the transport tests write, and a reader thread that turns a transport's frames into a queue. */
final class DialerTestFrames {

    static final int AUTH_OK = Op.AUTH_OK;
    static final int JOIN_OK = Op.JOIN_OK;
    static final int PUSH = Op.PUSH;
    static final int DISCONNECT = Op.DISCONNECT;

    private DialerTestFrames() {}

    /** One frame from the edge; op -1 marks the end of the stream, with the reason as the error. */
    record Frame(int op, int seq, @Nullable Body body, String error) {
        /** AuthOK's conn_key, JoinOK's room. */
        String firstStr() {
            if (body instanceof AuthOk ok) {
                return ok.connKey();
            }
            if (body instanceof JoinOk ok) {
                return ok.room();
            }
            throw new IllegalStateException("no string field in " + body);
        }
    }

    static byte[] auth(int seq, String token) {
        return Frames.encode(seq, new Auth(token));
    }

    static byte[] join(int seq, String room) {
        return Frames.encode(seq, new Join(room));
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.write(p, 0, p.length);
        }
        return out.toByteArray();
    }

    /** Decodes one whole frame (a datagram). */
    static Frame decode(byte[] whole) throws WireException {
        Frames.Decoded d = Frames.decode(whole, 0, whole.length, Limits.MAX_FRAME);
        return new Frame(d.op(), d.seq(), d.body(), "");
    }

    /** A Push frame's payload. */
    static byte[] pushData(Frame push) {
        return ((Push) push.body()).data();
    }

    /** Reads frames from a transport on a daemon thread. */
    static final class Reader {
        private final BlockingQueue<Frame> frames = new LinkedBlockingQueue<>();

        Reader(Transport t) {
            Thread th = new Thread(() -> {
                FrameReader r = new FrameReader(t.in(), Limits.MAX_FRAME);
                try {
                    while (r.next()) {
                        frames.add(new Frame(r.op(), r.seq(), r.body(), ""));
                    }
                    frames.add(new Frame(-1, 0, null, "end of stream"));
                } catch (IOException | RuntimeException e) {
                    frames.add(new Frame(-1, 0, null, String.valueOf(e)));
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
                    throw new IOException("stream ended while waiting for op " + op + ": " + f.error());
                }
            }
        }
    }
}
