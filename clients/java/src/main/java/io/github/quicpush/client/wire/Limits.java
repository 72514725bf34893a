package io.github.quicpush.client.wire;

/** The protocol's sizes (docs/protocol.md sections 3 and 9). */
public final class Limits {
    /** The largest frame, header included, a version-1 peer sends or must accept. */
    public static final int MAX_FRAME = 65536;
    /**
     * The largest well-formed Auth: the header, a 10-byte version, the longest token with its 2-byte length, a
     * 10-byte offset, the longest epoch with its 2-byte length and a 10-byte count of Joins (revision 5). The
     * edge's limit before AuthOK.
     */
    public static final int MAX_AUTH_FRAME = 8490;
    /** The longest room, epoch, message id, connection key and user, in UTF-8 bytes. */
    public static final int MAX_NAME = 255;
    /** The longest member info (revision 5), a JSON object in UTF-8 bytes. */
    public static final int MAX_INFO = 1024;
    /** The longest token, in bytes. */
    public static final int MAX_TOKEN = 8192;
    /** A frame header: length (u32), op (u8), seq (u32). */
    public static final int HEADER = 9;
    /** The protocol version sent in Auth. */
    public static final int VERSION = 1;
    /** The protocol revision this codec implements. */
    public static final int REVISION = 5;

    private Limits() {}
}
