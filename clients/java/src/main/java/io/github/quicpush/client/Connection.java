package io.github.quicpush.client;

import io.github.quicpush.client.wire.AuthOk;
import io.github.quicpush.client.wire.Body;
import io.github.quicpush.client.wire.FrameReader;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import org.jspecify.annotations.Nullable;

/** One authenticated connection to an edge. Fields without a note are owned by the client's loop thread. */
final class Connection {
    /** Handles the answer to a request, or null when the connection ended first. */
    @FunctionalInterface
    interface Reply {
        void answer(@Nullable Body body);
    }

    final Transport transport;
    /** Read only by the connection's reader thread (after the dial handed it over). */
    final FrameReader reader;
    final int edge;
    final Endpoint endpoint;
    final AuthOk authOk;
    final long pingIntervalNanos;
    final long upSinceNanos = System.nanoTime();
    final Object writeLock = new Object();

    final Map<Integer, Reply> pending = new HashMap<>();
    private int seq;
    /** Written by the reader thread, read by the heartbeat. */
    volatile long lastReadNanos = System.nanoTime();
    long pingSentNanos;
    @Nullable ScheduledFuture<?> heartbeat;
    boolean down;
    /** A network change took it down: reconnect to the same edge. */
    boolean keepEdge;

    Connection(Transport transport, FrameReader reader, int edge, Endpoint endpoint, AuthOk authOk, int lastSeq) {
        this.transport = transport;
        this.reader = reader;
        this.edge = edge;
        this.endpoint = endpoint;
        this.authOk = authOk;
        long ms = authOk.pingIntervalMs() > 0 ? authOk.pingIntervalMs() : 25_000;
        this.pingIntervalNanos = ms * 1_000_000L;
        this.seq = lastSeq;
    }

    /** The next request seq: nonzero, never reused while a request may be outstanding. */
    int nextSeq() {
        seq++;
        if (seq == 0) {
            seq = 1;
        }
        return seq;
    }
}
