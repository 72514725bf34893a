package io.github.quicpush.client;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import javax.net.ssl.X509TrustManager;
import org.jspecify.annotations.Nullable;
import tech.kwik.core.QuicClientConnection;
import tech.kwik.core.QuicSessionTicket;
import tech.kwik.core.QuicStream;
import tech.kwik.core.log.Logger;
import tech.kwik.core.log.NullLogger;
import tech.kwik.core.log.SysOutLogger;

/**
 * Dials raw QUIC ({@code quic://}, docs/protocol.md section 2.1) with Kwik: ALPN {@code quicpush/1}, one
 * bidirectional stream carrying the frame stream, 0-RTT with a stored session ticket, RFC 9221 datagrams for
 * ephemeral pushes (section 6.7) and migration to a new local socket.
 */
final class QuicDialer implements Dialer {

    static final String ALPN = "quicpush/1";

    /**
     * Length of the connection IDs this client asks the edge to address it with. Zero, because of migration: a
     * quic-go edge probes a client's new path with a connection ID the client issued beforehand (NEW_CONNECTION_ID),
     * and Kwik 0.10.8 issues none, so with Kwik's default 8-byte IDs the edge never validates the new path and keeps
     * sending to the old one. With zero-length IDs the edge needs no spare ID and follows every move. A client has
     * one connection per UDP socket, so it needs no ID to demultiplex. The system property
     * {@code quicpush.quic.cidLength} overrides it (for measuring the difference).
     */
    static final int CONNECTION_ID_LENGTH = Integer.getInteger("quicpush.quic.cidLength", 0);

    @Override
    public Transport dial(Endpoint endpoint, byte[] firstFlight, DialOptions options) throws IOException {
        if (!endpoint.isQuic()) {
            throw new IllegalArgumentException("QuicDialer dials quic://, not " + endpoint);
        }
        long deadline = System.nanoTime() + options.dialTimeout().toNanos();
        // Kwik 0.10.8 can stall after the ServerHello and never recover (the handshake keys are never installed;
        // QuicSocket's late first read avoids the race that causes it), and now and then fails a handshake with an
        // exception of its own. A second attempt almost always completes, so a dial makes up to MAX_ATTEMPTS within
        // its timeout; a path that is really silent still fails within the dial timeout.
        QuicStalled last = null;
        for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
            Duration left = Duration.ofNanos(deadline - System.nanoTime());
            if (left.toMillis() < 50) {
                break;
            }
            // Each attempt but the last gets at most FIRST_ATTEMPT_CAP; the last gets whatever is left.
            boolean lastAttempt = attempt == MAX_ATTEMPTS - 1
                    || left.minus(FIRST_ATTEMPT_CAP).compareTo(FIRST_ATTEMPT_CAP.dividedBy(2)) < 0;
            Duration timeout = lastAttempt ? left : min(left, FIRST_ATTEMPT_CAP);
            try {
                // Only the first attempt uses the ticket: Kwik's 0-RTT path has a race of its own (see kwikFault).
                return attempt(endpoint, firstFlight, options, timeout, attempt == 0);
            } catch (QuicStalled stalled) {
                if (last != null) {
                    stalled.addSuppressed(last);
                }
                last = stalled;
            }
        }
        throw timeout(endpoint, options, last);
    }

    /** Attempts a dial makes when Kwik stalls; see {@link #dial}. */
    static final int MAX_ATTEMPTS = 3;

    /**
     * The longest an attempt but the last may take. A QUIC handshake (one round trip, plus one for the certificate
     * when it is large) takes well under a second on a working mobile path; one that has not finished after two
     * seconds is more likely stuck in Kwik than slow, and the next attempt still gets the rest of the dial timeout.
     */
    static final Duration FIRST_ATTEMPT_CAP = Duration.ofSeconds(2);

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    private static IOException timeout(Endpoint endpoint, DialOptions options, @Nullable QuicStalled cause) {
        return new IOException("dial " + endpoint + ": no QUIC handshake within "
                + options.dialTimeout().toMillis() + " ms (UDP blocked or the edge is down?)",
                cause == null ? null : cause.getCause());
    }

    /** A handshake that timed out, or failed inside Kwik: worth another attempt within the dial timeout. */
    private static final class QuicStalled extends Exception {
        private static final long serialVersionUID = 1L;

        QuicStalled(IOException cause) {
            super(cause.getMessage(), cause);
        }
    }

    /**
     * Whether a failed connect is one of Kwik's own faults rather than the edge's answer: a handshake that stalled
     * until the timeout, or an exception inside Kwik during the handshake (0.10.8 has a race in its timers that
     * surfaces as "Handshake error: java.lang.NullPointerException" in IdleTimer.setIdleTimeout when a 0-RTT
     * handshake's EncryptedExtensions arrive while the dialing thread is still arming the idle timer). TLS alerts
     * (a refused certificate) are final.
     */
    private static boolean kwikFault(Exception e) {
        if (!(e instanceof ConnectException)) {
            return false;
        }
        String m = String.valueOf(e.getMessage());
        return m.contains("timed out") || (m.startsWith("Handshake error") && !m.contains("Alert"));
    }

    private Transport attempt(Endpoint endpoint, byte[] firstFlight, DialOptions options, Duration timeout,
            boolean mayUseTicket) throws IOException, QuicStalled {
        String ticketKey = endpoint.toString();
        byte @Nullable [] ticket = options.zeroRtt() && mayUseTicket ? options.tickets().load(ticketKey) : null;
        @Nullable CertPins pins = options.certHashes().isEmpty() ? null : new CertPins(options.certHashes());
        QuicClientConnection conn;
        try {
            conn = build(endpoint, options, pins, ticket, timeout);
        } catch (RuntimeException e) {
            if (ticket == null) {
                throw e;
            }
            // A stored ticket that no longer parses (another Kwik version wrote it): dial without it.
            conn = build(endpoint, options, pins, null, timeout);
            ticket = null;
        }
        QuicConnectionState state = new QuicConnectionState();
        conn.setConnectionListener(state);
        @Nullable Consumer<byte[]> datagrams = options.datagrams();
        if (datagrams != null) {
            // Kwik calls the handler on its receiver thread unless given an executor; the client's handler only
            // decodes and queues, so that is fine and saves a thread per connection.
            conn.setDatagramHandler(datagrams);
        }
        QuicStream stream;
        try {
            if (ticket != null) {
                // Kwik sends the data in 0-RTT packets with the ClientHello. When the edge rejects the early data
                // (a ticket of another edge process), Kwik's connect writes the same bytes again on the same
                // stream once the handshake is done: to the edge that is the first stream with Auth on it, which
                // is what section 2.1 asks of the client.
                List<QuicStream> streams =
                        conn.connect(List.of(new QuicClientConnection.StreamEarlyData(firstFlight, false)));
                QuicStream early = streams.isEmpty() ? null : streams.get(0);
                if (early == null) {
                    // The ticket allowed no early stream: send the flight as after a full handshake.
                    stream = conn.createStream(true);
                    stream.getOutputStream().write(firstFlight);
                    stream.getOutputStream().flush();
                } else {
                    stream = early;
                }
            } else {
                conn.connect();
                stream = conn.createStream(true);
                stream.getOutputStream().write(firstFlight);
                stream.getOutputStream().flush();
            }
        } catch (IOException | RuntimeException e) {
            conn.close();
            if (Thread.currentThread().isInterrupted()) {
                InterruptedIOException ie = new InterruptedIOException("dial " + endpoint + ": interrupted");
                ie.initCause(e);
                throw ie;
            }
            @Nullable String refused = pins == null ? null : pins.lastRejection();
            String why = refused != null ? refused
                    : state.failure() != null ? state.failure() : TcpDialer.rootMessage(e);
            IOException failed = new IOException("dial " + endpoint + ": " + why, e);
            if (refused == null && state.failure() == null && kwikFault(e)) {
                throw new QuicStalled(failed);
            }
            throw failed;
        }
        if (keepAliveOn(options)) {
            // Kwik's keepAlive(n) keeps the connection alive for n seconds, sending a PING every half idle timeout
            // (see build): for the life of the connection, then.
            conn.keepAlive(Integer.MAX_VALUE);
        }
        QuicTransport t = new QuicTransport(conn, stream, state, options.tickets(), ticketKey);
        t.saveNewTickets();
        return t;
    }

    private static QuicClientConnection build(Endpoint endpoint, DialOptions options, @Nullable CertPins pins,
            byte @Nullable [] ticket,
            Duration timeout) throws IOException {
        QuicClientConnection.Builder b = QuicClientConnection.newBuilder();
        b.host(endpoint.host());
        b.port(endpoint.port());
        b.applicationProtocol(ALPN);
        b.connectTimeout(timeout);
        b.connectionIdLength(CONNECTION_ID_LENGTH);
        b.socketFactory(address -> new QuicSocket());
        if (keepAliveOn(options)) {
            // Kwik pings every half idle timeout and takes no interval of its own: an idle timeout of twice the
            // keep-alive interval makes it ping at that interval (the edge's own idle timeout is longer).
            long seconds = Math.max(1, options.quicKeepAlive().getSeconds());
            b.maxIdleTimeout(Duration.ofSeconds(2 * seconds));
        }
        b.logger(kwikLogger());
        if (pins != null) {
            b.customTrustManager(pins);
        } else {
            @Nullable X509TrustManager tm = options.trustManager();
            if (tm != null) {
                b.customTrustManager(tm);
            }
        }
        if (options.datagrams() != null) {
            b.enableDatagramExtension();
        }
        if (ticket != null) {
            b.sessionTicket(ticket);
        }
        try {
            QuicClientConnection conn = b.build();
            if (pins != null) {
                QuicImplAccess.acceptAnyServerName(conn);
            }
            return conn;
        } catch (UnknownHostException e) {
            throw new UnknownHostException("dial " + endpoint + ": unknown host " + endpoint.host());
        }
    }

    /**
     * Kwik logs to stdout by default; a library must stay quiet. Setting the system property
     * {@code quicpush.kwik.log} (to "info", or "debug" for every packet) turns Kwik's own log on for a diagnosis.
     */
    private static Logger kwikLogger() {
        String level = System.getProperty("quicpush.kwik.log");
        if (level == null || level.isEmpty()) {
            return new NullLogger();
        }
        SysOutLogger log = new SysOutLogger();
        log.logInfo(true);
        log.logWarning(true);
        if (level.equals("debug")) {
            log.logDebug(true);
            log.logPackets(true);
            log.logRecovery(true);
        }
        return log;
    }

    private static boolean keepAliveOn(DialOptions options) {
        return !options.quicKeepAlive().isZero() && !options.quicKeepAlive().isNegative();
    }

    /** Saves the newest ticket Kwik holds, if it is newer than the last saved. */
    static int saveTickets(QuicClientConnection conn, SessionTicketStore store, String key, int saved) {
        List<QuicSessionTicket> all = conn.getNewSessionTickets();
        int n;
        QuicSessionTicket newest;
        synchronized (all) { // Kwik keeps them in a synchronized list that its receiver thread appends to
            n = all.size();
            if (n <= saved) {
                return saved;
            }
            newest = all.get(n - 1);
        }
        store.save(key, newest.serialize());
        return n;
    }
}
