package io.github.quicpush.client;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.OptionalInt;

/**
 * One open connection to an edge that carries the frame stream (docs/protocol.md section 2): the bidirectional
 * stream of a raw QUIC connection, or a TCP (optionally TLS) socket. The client reads frames from {@link #in()} on
 * one thread and writes whole frames to {@link #out()} under its own lock, flushing after each batch.
 */
interface Transport extends Closeable {

    /** The frame stream from the edge. A read blocks; it ends (-1) or throws when the connection ends. */
    InputStream in();

    /** The frame stream to the edge. The caller flushes. */
    OutputStream out();

    /** "quic", "tcp" or "tls": what the connect event reports. */
    String kind();

    /**
     * Whether the first flight given to the dial (Auth and the Joins) went as 0-RTT data and the edge accepted
     * it. False for TCP and for a full QUIC handshake.
     */
    default boolean usedZeroRtt() {
        return false;
    }

    /**
     * The close code the transport itself carried when it ended (the QUIC application error code), if any. The
     * client uses it only when it read no Disconnect frame (docs/protocol.md section 6.5).
     */
    default OptionalInt closeCode() {
        return OptionalInt.empty();
    }

    /** Whether {@link #migrate()} can move this connection to a new local address. */
    default boolean canMigrate() {
        return false;
    }

    /**
     * Moves the connection to a new local socket (a new network path) without a new handshake. Throws when the
     * transport cannot migrate; the client then reconnects and resumes.
     */
    default void migrate() throws IOException {
        throw new IOException(kind() + " connections cannot migrate");
    }

    /** Ends the connection at once; a blocked read or write then fails. Safe to call more than once. */
    @Override
    void close();
}
