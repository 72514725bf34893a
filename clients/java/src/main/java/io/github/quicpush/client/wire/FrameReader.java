package io.github.quicpush.client.wire;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import org.jspecify.annotations.Nullable;

/**
 * Splits a byte stream (raw QUIC, WebTransport, framed TCP) into frames (docs/protocol.md section 10). Read
 * boundaries mean nothing: one read may bring dozens of frames, or end inside a header or a body.
 *
 * <p>It reads in large chunks into one buffer of its own and hands out each frame in place, so a batch of frames
 * costs one read and no allocation per frame. The buffer starts at {@value #INITIAL} bytes and grows only to hold
 * a whole frame, so never past the largest limit set. The rooms and epochs of pushes, which a stream repeats, are
 * decoded once and then shared. Each header is checked against the limit before the body is waited for. Not safe
 * for concurrent use.
 */
public final class FrameReader {
    /** Initial buffer: large enough to take a busy batch in one read, small enough for an idle connection. */
    static final int INITIAL = 16 * 1024;

    private final InputStream in;
    private int maxFrame;
    private byte[] buf = new byte[INITIAL];
    /** Start of the unread bytes, and end of the bytes read so far. */
    private int pos;
    private int lim;
    /** The current frame: where it starts in buf and its whole size; size 0 before the first frame. */
    private int start;
    private int size;
    private final BodyReader bodies = new BodyReader(new NameCache());

    /** A reader of frames of at most {@code maxFrame} bytes, header included (0 or less: {@link Limits#MAX_FRAME}). */
    public FrameReader(InputStream in, int maxFrame) {
        this.in = in;
        this.maxFrame = Frames.limit(maxFrame);
    }

    /**
     * Changes the limit from the next frame on (0 or less: {@link Limits#MAX_FRAME}); an edge reads Auth with
     * {@link Limits#MAX_AUTH_FRAME}.
     */
    public void maxFrame(int maxFrame) {
        this.maxFrame = Frames.limit(maxFrame);
    }

    /**
     * Reads the next whole frame.
     *
     * @return false when the stream ended cleanly between frames
     * @throws EOFException the stream ended inside a frame
     * @throws WireException the header is malformed (length below 5) or announces a frame over the limit; the
     *     body is not waited for
     */
    public boolean next() throws IOException {
        size = 0;
        if (!fill(Limits.HEADER)) {
            return false;
        }
        int n = Frames.frameSize(buf, pos, maxFrame);
        if (!fill(n)) {
            throw new EOFException("stream ended inside a frame of " + n + " bytes");
        }
        start = pos;
        size = n;
        pos += n;
        return true;
    }

    /**
     * Makes {@code need} bytes available from pos, reading as much as the buffer takes each time. Returns false
     * when the stream ends with no byte of the frame read; throws EOFException when it ends after some.
     */
    private boolean fill(int need) throws IOException {
        if (lim - pos >= need) {
            return true;
        }
        if (buf.length - pos < need) {
            makeRoom(need);
        }
        while (lim - pos < need) {
            int r = in.read(buf, lim, buf.length - lim);
            if (r < 0) {
                if (lim == pos) {
                    return false;
                }
                throw new EOFException("stream ended " + (lim - pos) + " bytes into a frame");
            }
            lim += r;
        }
        return true;
    }

    // Moves the unread bytes to the front, growing the buffer if a frame of need bytes still does not fit.
    private void makeRoom(int need) {
        int unread = lim - pos;
        byte[] to = buf;
        if (need > buf.length) {
            // need is at most the limit, so the buffer never outgrows the largest frame accepted.
            to = new byte[Math.max(need, Math.min(buf.length * 2, maxFrame))];
        }
        System.arraycopy(buf, pos, to, 0, unread);
        buf = to;
        pos = 0;
        lim = unread;
    }

    private void requireFrame() {
        if (size == 0) {
            throw new IllegalStateException("no current frame: call next() first");
        }
    }

    /** The current frame's op. */
    public int op() {
        requireFrame();
        return buf[start + 4] & 0xff;
    }

    /** The current frame's seq (u32 in an int). */
    public int seq() {
        requireFrame();
        return Frames.seq(buf, start);
    }

    /** The buffer holding the current frame; valid until the next {@link #next()}. Do not write to it. */
    public byte[] buffer() {
        return buf;
    }

    /** Where the current frame's body starts in {@link #buffer()}. */
    public int bodyOffset() {
        requireFrame();
        return start + Limits.HEADER;
    }

    /** The current frame's body length. */
    public int bodyLength() {
        requireFrame();
        return size - Limits.HEADER;
    }

    /** Decodes the current frame's body; null for an op undefined in version 1 (skip the frame). */
    public @Nullable Body body() throws WireException {
        requireFrame();
        return Frames.decodeBody(op(), bodies.reset(buf, bodyOffset(), bodyLength()));
    }
}
