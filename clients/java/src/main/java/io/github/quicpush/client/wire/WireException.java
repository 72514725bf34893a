package io.github.quicpush.client.wire;

import java.io.IOException;

/**
 * A frame that cannot be decoded. {@link Kind#MALFORMED} maps to disconnect code 3501 and {@link Kind#TOO_LARGE}
 * to 3502 (docs/protocol.md section 4); a client that reads one from the edge's stream closes the connection, and
 * drops a bad datagram without closing.
 */
public final class WireException extends IOException {
    private static final long serialVersionUID = 1L;

    /** Why the frame was rejected. */
    public enum Kind {
        /** The header or body does not follow the encoding (section 4). */
        MALFORMED,
        /** The frame is over the receiver's limit (section 9). */
        TOO_LARGE,
    }

    private final Kind kind;

    public WireException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }

    /** The disconnect code an edge would close with for this error: 3501 or 3502. */
    public int code() {
        return kind == Kind.TOO_LARGE ? Codes.FRAME_TOO_LARGE : Codes.PROTOCOL_ERROR;
    }

    static WireException malformed(String message) {
        return new WireException(Kind.MALFORMED, message);
    }

    static WireException tooLarge(long size, int limit) {
        return new WireException(Kind.TOO_LARGE, "frame of " + size + " bytes, limit " + limit);
    }
}
