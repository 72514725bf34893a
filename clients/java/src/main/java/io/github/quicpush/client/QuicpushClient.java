package io.github.quicpush.client;

import io.github.quicpush.client.wire.Auth;
import io.github.quicpush.client.wire.AuthOk;
import io.github.quicpush.client.wire.Body;
import io.github.quicpush.client.wire.Codes;
import io.github.quicpush.client.wire.Disconnect;
import io.github.quicpush.client.wire.FrameReader;
import io.github.quicpush.client.wire.Frames;
import io.github.quicpush.client.wire.Join;
import io.github.quicpush.client.wire.JoinLeave;
import io.github.quicpush.client.wire.JoinOk;
import io.github.quicpush.client.wire.Leave;
import io.github.quicpush.client.wire.LeaveOk;
import io.github.quicpush.client.wire.Limits;
import io.github.quicpush.client.wire.Op;
import io.github.quicpush.client.wire.Ping;
import io.github.quicpush.client.wire.Pong;
import io.github.quicpush.client.wire.PresenceGet;
import io.github.quicpush.client.wire.PresenceOk;
import io.github.quicpush.client.wire.Push;
import io.github.quicpush.client.wire.Recovery;
import io.github.quicpush.client.wire.Refresh;
import io.github.quicpush.client.wire.RequestError;
import io.github.quicpush.client.wire.Subscribed;
import io.github.quicpush.client.wire.TokenExpiring;
import io.github.quicpush.client.wire.Unsubscribed;
import io.github.quicpush.client.wire.WireException;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.X509TrustManager;
import org.jspecify.annotations.Nullable;

/**
 * A connection to a quicpush edge that survives network failures: it reconnects with full-jitter backoff, moves to
 * the next edge when its edge drains or dies, joins its rooms again from the last position it saw so that the edge
 * replays what was missed, and drops repeats of at-least-once delivery. Rooms the application's backend puts the
 * client in (revision 5) are kept and rejoined the same way. On raw QUIC it also moves the connection
 * to a new network without a new handshake ({@link #networkChanged()}) and reconnects with 0-RTT.
 *
 * <p>Build one with {@link #builder(String...)}; each argument is one edge, its endpoint URLs separated by white
 * space in order of preference, QUIC first and TCP after it for networks that block UDP:
 *
 * <pre>{@code
 * QuicpushClient client = QuicpushClient.builder("quic://push.example.com:4433 tls://push.example.com:4434")
 *         .tokenSupplier(() -> backend.fetchPushToken())
 *         .onMessage(m -> show(m.text()))
 *         .callbackExecutor(ContextCompat.getMainExecutor(context))
 *         .build();
 * client.connect();
 * client.join("news");
 * }</pre>
 *
 * <p>Threads: every callback (listeners, and the completion of the futures this class returns) runs on the
 * callback executor, one at a time and in the order the events happened when that executor is serial (Android's
 * main thread is; the default is one daemon thread of the client's). A callback must not block that executor
 * waiting for another callback. The methods are safe to call from any thread.
 */
public final class QuicpushClient implements AutoCloseable {
    private static final long STABLE_NANOS = TimeUnit.SECONDS.toNanos(20);
    /** The protocol revision that defines PresenceGet: never sent to an edge that announced less. */
    private static final long PRESENCE_REVISION = 5;

    private final List<List<Endpoint>> edges;
    private final Builder cfg;
    private final Backoff backoff;
    /** Made on the first QUIC dial, so that an app without Kwik on its classpath can use TCP and TLS alone. */
    private @Nullable Dialer quic;
    private final Dialer tcp;
    private final Executor callbacks;
    private final @Nullable ExecutorService ownCallbacks;
    /** Owns all the state below; nothing on it blocks. */
    private final ScheduledExecutorService loop;
    /** Dials, token calls and migrations, which block. */
    private final ExecutorService io;
    private final ThreadFactory readers;

    private boolean closed;
    private boolean started;
    private @Nullable Connection conn;
    private boolean dialing;
    private @Nullable CompletableFuture<Void> connecting;
    private @Nullable ScheduledFuture<?> reconnectTimer;
    private int reconnectEdge;
    private int attempt;
    private final Map<String, Room> rooms = new LinkedHashMap<>();
    private final Position user = new Position();

    private volatile @Nullable Connection live;
    private final AtomicLong duplicates = new AtomicLong();
    private final AtomicLong migrations = new AtomicLong();
    private final AtomicLong badDatagrams = new AtomicLong();

    private QuicpushClient(Builder b, List<List<Endpoint>> edges) {
        this.cfg = b;
        this.edges = edges;
        this.backoff = new Backoff(b.backoffMin, b.backoffMax);
        this.quic = b.quicDialer;
        this.tcp = b.tcpDialer != null ? b.tcpDialer : new TcpDialer();
        ScheduledThreadPoolExecutor l = new ScheduledThreadPoolExecutor(1, daemon("quicpush-loop"));
        // Close ends the thread at once: timers (heartbeats, join timeouts, backoffs) die with the client.
        l.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        l.setContinueExistingPeriodicTasksAfterShutdownPolicy(false);
        l.setRemoveOnCancelPolicy(true);
        this.loop = l;
        this.io = Executors.newCachedThreadPool(daemon("quicpush-io"));
        this.readers = daemon("quicpush-reader");
        if (b.callbackExecutor != null) {
            this.callbacks = b.callbackExecutor;
            this.ownCallbacks = null;
        } else {
            ExecutorService e = Executors.newSingleThreadExecutor(daemon("quicpush-callbacks"));
            this.callbacks = e;
            this.ownCallbacks = e;
        }
    }

    /**
     * Starts a builder for the given edges. Each element is one edge: its endpoint URLs ({@code quic://host:port},
     * {@code tcp://host:port}, {@code tls://host:port}) separated by white space, in order of preference.
     */
    public static Builder builder(String... edges) {
        return new Builder(List.of(edges));
    }

    // ---------------------------------------------------------------- public API

    /**
     * Connects for the first time: tries the edges in the order given, each edge's endpoints in order, and
     * completes once one has authenticated the client. It fails with a {@link QuicpushException}: the edge's code
     * when one refused the client with a code that forbids retrying (an invalid token, say), or code 0 with every
     * endpoint's failure when none could be reached. After it succeeds, the client keeps the session alive and
     * reconnects by itself until {@link #close()} or a disconnect code of 3500-3999 (reported to the disconnect
     * listener); connect may then be called again.
     */
    public CompletableFuture<Void> connect() {
        CompletableFuture<Void> f = new CompletableFuture<>();
        post(() -> {
            if (closed) {
                fail(f, new QuicpushException("client closed", new IllegalStateException("closed")));
                return;
            }
            if (started) {
                fail(f, new QuicpushException("already connected", new IllegalStateException("started")));
                return;
            }
            started = true;
            attempt = 0;
            connecting = f;
            startDial(0);
        }, f);
        return f;
    }

    /** Joins {@code room}; its messages go to the client's message listener. See {@link #join(String, Listeners.OnMessage)}. */
    public CompletableFuture<Void> join(String room) {
        return join(room, null);
    }

    /**
     * Joins {@code room} and completes when the edge confirms. The room is remembered and joined again after
     * every reconnect, from the last position seen, until {@link #leave}. Called before {@link #connect()} or
     * while reconnecting, it completes on the next connection. A refusal (for example {@code Codes.FORBIDDEN})
     * fails it with {@link QuicpushException} and forgets the room; an edge's internal error (104) is no refusal:
     * the Join is sent again with backoff. After the request timeout the future fails with
     * {@link TimeoutException} but the room stays remembered.
     *
     * @param listener receives the room's messages instead of the client's message listener; null: the client's
     */
    public CompletableFuture<Void> join(String room, Listeners.@Nullable OnMessage listener) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        int n = room.getBytes(StandardCharsets.UTF_8).length;
        if (n == 0 || n > Limits.MAX_NAME) {
            f.completeExceptionally(new IllegalArgumentException("room name must be 1 to 255 bytes"));
            return f;
        }
        post(() -> {
            if (closed) {
                fail(f, closedError());
                return;
            }
            Room r = rooms.computeIfAbsent(room, Room::new);
            if (listener != null) {
                r.listener = listener;
            }
            Connection c = conn;
            if (c != null && r.joinedOn == c) {
                succeed(f);
                return;
            }
            r.waiters.add(f);
            if (c != null && r.sentOn != c) {
                sendJoin(c, r);
            }
            loop.schedule(() -> {
                if (r.waiters.remove(f)) {
                    fail(f, new TimeoutException("join " + room + ": no answer within " + cfg.requestTimeout));
                }
            }, cfg.requestTimeout.toNanos(), TimeUnit.NANOSECONDS);
        }, f);
        return f;
    }

    /**
     * Leaves {@code room}. The client forgets it at once; if it is joined on the live connection, the future
     * completes when the edge confirms. Leaving a room the client is not in fails with
     * {@code Codes.NOT_JOINED}.
     */
    public CompletableFuture<Void> leave(String room) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        post(() -> {
            Room r = rooms.remove(room);
            if (r == null) {
                fail(f, new QuicpushException(Codes.NOT_JOINED, "not joined"));
                return;
            }
            for (CompletableFuture<Void> w : r.waiters) {
                fail(w, new QuicpushException("left " + room + " before the edge confirmed the join",
                        new IllegalStateException("left")));
            }
            r.waiters.clear();
            Connection c = conn;
            boolean onEdge = c != null && (r.joinedOn == c || r.sentOn == c);
            r.joinedOn = null;
            r.sentOn = null;
            if (!onEdge) {
                succeed(f);
                return;
            }
            int seq = send(c, new Leave(room));
            if (seq < 0) {
                succeed(f); // the connection is gone, and the room with it
                return;
            }
            c.pending.put(seq, body -> {
                if (body instanceof RequestError e) {
                    fail(f, new QuicpushException(e.code(), e.message()));
                } else {
                    succeed(f);
                }
            });
        }, f);
        return f;
    }

    /**
     * Asks the edge who is in {@code room}, a room the client is in (docs/protocol.md section 6.10): the room's
     * counts across the cluster and its members, as many as the edge lists. It fails with
     * {@link QuicpushException}: {@code Codes.NOT_JOINED} (not in the room), {@code Codes.FORBIDDEN} (the room's
     * namespace does not allow presence to clients), {@code Codes.INTERNAL_ERROR} (retry with backoff), or code 0
     * without asking when the client is not connected or the edge predates revision 5 (an older edge would close
     * the connection for the request). After the request timeout it fails with {@link TimeoutException}.
     */
    public CompletableFuture<Presence> presence(String room) {
        CompletableFuture<Presence> f = new CompletableFuture<>();
        int n = room.getBytes(StandardCharsets.UTF_8).length;
        if (n == 0 || n > Limits.MAX_NAME) {
            f.completeExceptionally(new IllegalArgumentException("room name must be 1 to 255 bytes"));
            return f;
        }
        post(() -> {
            Connection c = conn;
            if (c == null) {
                fail(f, new QuicpushException("presence " + room + ": not connected",
                        new IllegalStateException("not connected")));
                return;
            }
            long revision = c.authOk.revision();
            if (revision < PRESENCE_REVISION) {
                fail(f, new QuicpushException("presence " + room + ": the edge speaks revision " + revision
                        + ", presence needs " + PRESENCE_REVISION, new UnsupportedOperationException("presence")));
                return;
            }
            int seq = send(c, new PresenceGet(room));
            if (seq < 0) {
                fail(f, new QuicpushException("presence " + room + ": connection lost", new IOException("lost")));
                return;
            }
            c.pending.put(seq, body -> {
                if (body instanceof PresenceOk ok) {
                    Presence p = new Presence(ok.room(), ok.conns(), ok.users(), ok.complete(), members(ok.members()));
                    emit(() -> f.complete(p));
                } else if (body instanceof RequestError e) {
                    fail(f, new QuicpushException(e.code(), e.message()));
                } else if (body == null) {
                    fail(f, new QuicpushException("presence " + room + ": connection lost", new IOException("lost")));
                } else {
                    lose(c, 0, "protocol error: " + body + " answering presence_get");
                }
            });
            loop.schedule(() -> {
                if (c.pending.remove(seq) != null) {
                    fail(f, new TimeoutException("presence " + room + ": no answer within " + cfg.requestTimeout));
                }
            }, cfg.requestTimeout.toNanos(), TimeUnit.NANOSECONDS);
        }, f);
        return f;
    }

    private static List<Member> members(List<io.github.quicpush.client.wire.Member> ms) {
        List<Member> out = new ArrayList<>(ms.size());
        for (io.github.quicpush.client.wire.Member m : ms) {
            out.add(new Member(m.user(), m.connKey(), m.infoText()));
        }
        return List.copyOf(out);
    }

    /**
     * Tells the client that the device's network changed (Android: ConnectivityManager.NetworkCallback's
     * onAvailable or onLost; a new default network). On raw QUIC the connection moves to a new local socket
     * without a new handshake, and a Ping must come back on the new path within the migrate timeout; otherwise,
     * and on TCP, the client reconnects to the same edge at once and resumes. While the client is waiting to
     * reconnect it tries at once.
     */
    public void networkChanged() {
        post(() -> {
            if (closed || !started) {
                return;
            }
            Connection c = conn;
            if (c == null) {
                if (reconnectTimer != null && reconnectTimer.cancel(false)) {
                    reconnectTimer = null;
                    attempt = 0;
                    startDial(reconnectEdge);
                }
                return;
            }
            if (!c.transport.canMigrate()) {
                c.keepEdge = true;
                lose(c, 0, "network changed");
                return;
            }
            io.execute(() -> {
                try {
                    c.transport.migrate();
                    post(() -> probe(c));
                } catch (IOException | RuntimeException e) {
                    post(() -> {
                        c.keepEdge = true;
                        lose(c, 0, "migration failed: " + e.getMessage());
                    });
                }
            });
        });
    }

    /**
     * Closes the connection but keeps the client: its rooms and the last position seen in each stream stay, and
     * the next {@link #connect()} joins them again from there, so the edge replays what came in between (Android:
     * call it when the app goes to the background and connect when it comes back). The disconnect listener is told,
     * with {@code reconnect} false. Pending joins fail; the rooms they asked for stay remembered.
     */
    public CompletableFuture<Void> disconnect() {
        CompletableFuture<Void> f = new CompletableFuture<>();
        post(() -> {
            if (started) {
                stop(0, "client disconnected", new QuicpushException("client disconnected",
                        new IllegalStateException("disconnected")));
            }
            succeed(f);
        }, f);
        return f;
    }

    /** The transport of the live connection ("quic", "tcp" or "tls"), or null while disconnected. */
    public @Nullable String transport() {
        Connection c = live;
        return c == null ? null : c.transport.kind();
    }

    /** The endpoint URL of the live connection, or null while disconnected. */
    public @Nullable String endpoint() {
        Connection c = live;
        return c == null ? null : c.endpoint.toString();
    }

    /** The edge's key of the live connection, or null while disconnected. */
    public @Nullable String connKey() {
        Connection c = live;
        return c == null ? null : c.authOk.connKey();
    }

    /** The user id the edge took from the token, or null while disconnected. */
    public @Nullable String user() {
        Connection c = live;
        return c == null ? null : c.authOk.user();
    }

    /**
     * The protocol revision the live connection's edge announced in AuthOK (5 or more for presence, server-side
     * rooms and join and leave notices), 0 from earlier edges or while disconnected.
     */
    public long edgeRevision() {
        Connection c = live;
        return c == null ? 0 : c.authOk.revision();
    }

    /** Whether a connection is up. */
    public boolean isConnected() {
        return live != null;
    }

    /** Messages dropped as repeats of at-least-once delivery (same epoch, offset not above the last seen). */
    public long duplicatesDropped() {
        return duplicates.get();
    }

    /** QUIC connection migrations that succeeded ({@link #networkChanged()}). */
    public long migrations() {
        return migrations.get();
    }

    /** Datagrams dropped because they did not hold one ephemeral push (docs/protocol.md section 6.7). */
    public long badDatagrams() {
        return badDatagrams.get();
    }

    /**
     * Closes the connection and stops the client for good; its threads end. Pending futures fail. Safe to call
     * from a callback, and more than once.
     */
    @Override
    public void close() {
        CountDownLatch done = new CountDownLatch(1);
        try {
            loop.execute(() -> {
                try {
                    shutdown();
                } finally {
                    done.countDown();
                }
            });
            done.await(5, TimeUnit.SECONDS);
        } catch (RejectedExecutionException e) {
            return; // closed already
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        loop.shutdown();
        io.shutdownNow();
        if (ownCallbacks != null) {
            ownCallbacks.shutdown();
        }
    }

    // ---------------------------------------------------------------- the loop

    private void shutdown() {
        if (closed) {
            return;
        }
        closed = true;
        stop(0, "client closed", closedError());
    }

    /** Stops connecting: the live connection ends (reported with {@code reason}), nothing reconnects. */
    private void stop(int code, String reason, QuicpushException err) {
        started = false;
        if (reconnectTimer != null) {
            reconnectTimer.cancel(false);
            reconnectTimer = null;
        }
        Connection c = conn;
        if (c != null) {
            end(c);
            conn = null;
            live = null;
            emit(() -> {
                if (cfg.onDisconnect != null) {
                    cfg.onDisconnect.onDisconnect(new DisconnectEvent(code, reason, false));
                }
            });
        }
        if (connecting != null) {
            fail(connecting, err);
            connecting = null;
        }
        failWaiters(err);
    }

    /** Starts one connect attempt on an io thread, from edge {@code first} on. */
    private void startDial(int first) {
        if (dialing || closed) {
            return;
        }
        dialing = true;
        reconnectTimer = null;
        // What the first flight carries: the user stream's position and a Join per remembered room.
        long userOffset = user.offset;
        String userEpoch = user.epoch;
        List<Join> joins = new ArrayList<>(rooms.size());
        for (Room r : rooms.values()) {
            joins.add(new Join(r.name, r.position.offset, r.position.epoch));
        }
        boolean reconnect = connecting == null;
        io.execute(() -> dialAll(first, userOffset, userEpoch, joins, reconnect));
    }

    /** Tries every edge from {@code first} on, each edge's endpoints in order (an io thread). */
    private void dialAll(int first, long userOffset, String userEpoch, List<Join> joins, boolean reconnect) {
        String token;
        try {
            token = token();
        } catch (Exception e) {
            post(() -> dialFailed(new QuicpushException("token: " + e, e)));
            return;
        }
        StringBuilder errors = new StringBuilder();
        IOException lastIo = null;
        for (int n = 0; n < edges.size(); n++) {
            int edge = (first + n) % edges.size();
            List<Endpoint> eps = edges.get(edge);
            for (int i = 0; i < eps.size(); i++) {
                Endpoint ep = eps.get(i);
                if (loop.isShutdown()) {
                    return;
                }
                // A QUIC endpoint followed by another gets the short timeout: where UDP is blocked, QUIC never
                // answers, and the fallback must start within about a second.
                Duration timeout = ep.isQuic() && i + 1 < eps.size() ? cfg.quicFallbackTimeout : cfg.dialTimeout;
                try {
                    Connection c = dialEndpoint(edge, ep, timeout, token, userOffset, userEpoch, joins);
                    post(() -> installed(c, joins, reconnect));
                    return;
                } catch (QuicpushException e) {
                    if (!e.retryable()) {
                        post(() -> dialFailed(e));
                        return;
                    }
                    errors.append(errors.length() == 0 ? "" : "; ").append(ep).append(": ").append(e.getMessage());
                    break; // the edge's refusal: its other transports would hear the same
                } catch (IOException | RuntimeException e) {
                    lastIo = e instanceof IOException io ? io : new IOException(e);
                    errors.append(errors.length() == 0 ? "" : "; ").append(ep).append(": ").append(e.getMessage());
                    cfg.log.log("debug", "endpoint " + ep + " failed", e);
                }
            }
        }
        QuicpushException e = new QuicpushException("no edge reachable: " + errors,
                lastIo != null ? lastIo : new IOException("no endpoint"));
        post(() -> dialFailed(e));
    }

    private synchronized Dialer quicDialer() {
        if (quic == null) {
            quic = new QuicDialer();
        }
        return quic;
    }

    private String token() throws Exception {
        String t = cfg.tokenSupplier != null ? cfg.tokenSupplier.get() : cfg.token;
        if (t == null || t.isEmpty()) {
            throw new IllegalStateException("no token");
        }
        if (t.getBytes(StandardCharsets.UTF_8).length > Limits.MAX_TOKEN) {
            throw new IllegalArgumentException("token over " + Limits.MAX_TOKEN + " bytes");
        }
        return t;
    }

    /** Dials one endpoint and authenticates within {@code timeout} (an io thread). */
    private Connection dialEndpoint(int edge, Endpoint ep, Duration timeout, String token, long userOffset,
            String userEpoch, List<Join> joins) throws IOException, QuicpushException {
        ByteArrayOutputStream flight = new ByteArrayOutputStream(256);
        int seq = 1;
        // joins tells the edge how many Joins follow, so that it resumes server-side rooms among them from their
        // positions instead of entering them afresh (docs/protocol.md section 6.1).
        Frames.encode(flight, seq, new Auth(Limits.VERSION, token, userOffset, userEpoch, joins.size()));
        for (Join j : joins) {
            Frames.encode(flight, ++seq, j);
        }
        AtomicReference<@Nullable Connection> owner = new AtomicReference<>();
        DialOptions opts = new DialOptions(timeout, cfg.certHashes, cfg.trustManager, cfg.tickets, cfg.zeroRtt,
                cfg.datagrams ? b -> onDatagram(owner.get(), b) : null, cfg.quicKeepAlive);
        long deadline = System.nanoTime() + timeout.toNanos();
        Transport t;
        try {
            t = (ep.isQuic() ? quicDialer() : tcp).dial(ep, flight.toByteArray(), opts);
        } catch (LinkageError e) {
            throw new IOException("QUIC needs tech.kwik:kwik on the classpath (see the README, \"TCP only\")", e);
        }
        // Reads take no deadline: closing the transport is what bounds the wait for AuthOK.
        ScheduledFuture<?> guard = loop.schedule(t::close, Math.max(0, deadline - System.nanoTime()),
                TimeUnit.NANOSECONDS);
        FrameReader reader = new FrameReader(t.in(), cfg.maxFrame);
        try {
            AuthOk ok = readAuthOk(t, reader);
            if (!guard.cancel(false)) {
                throw new IOException("no auth_ok within " + timeout);
            }
            Connection c = new Connection(t, reader, edge, ep, ok, seq);
            owner.set(c);
            return c;
        } catch (IOException | QuicpushException | RuntimeException e) {
            guard.cancel(false);
            t.close();
            if (e instanceof IOException && guard.isDone() && !guard.isCancelled()) {
                throw new IOException("no auth_ok within " + timeout, e);
            }
            throw e;
        }
    }

    private static AuthOk readAuthOk(Transport t, FrameReader reader) throws IOException, QuicpushException {
        try {
            while (true) {
                if (!reader.next()) {
                    throw new EOFException("connection closed before auth_ok");
                }
                Body b = reader.body();
                if (b instanceof AuthOk ok) {
                    return ok;
                }
                if (b instanceof Disconnect d) {
                    throw new QuicpushException(d.code(), d.reason());
                }
                if (b instanceof RequestError e) {
                    throw new QuicpushException(e.code(), e.message());
                }
                if (b != null) {
                    throw new WireException(WireException.Kind.MALFORMED, Op.name(reader.op()) + " before auth_ok");
                }
                // An op of a later revision: skipped.
            }
        } catch (IOException e) {
            OptionalInt code = t.closeCode();
            if (code.isPresent() && isDisconnectCode(code.getAsInt())) {
                throw new QuicpushException(code.getAsInt(), "");
            }
            throw e;
        }
    }

    /** A dial attempt failed: the first connect fails, a reconnect tries again later. */
    private void dialFailed(QuicpushException e) {
        dialing = false;
        if (closed) {
            return;
        }
        cfg.log.log("info", "connect failed", e);
        if (connecting != null) {
            started = false;
            fail(connecting, e);
            connecting = null;
            failWaiters(e);
            return;
        }
        if (!e.retryable()) {
            started = false;
            failWaiters(e);
            emit(() -> {
                if (cfg.onDisconnect != null) {
                    cfg.onDisconnect.onDisconnect(new DisconnectEvent(e.code(), e.getMessage(), false));
                }
            });
            return;
        }
        scheduleReconnect(reconnectEdge);
    }

    private void scheduleReconnect(int edge) {
        reconnectEdge = edge;
        long delay = backoff.delayNanos(attempt);
        attempt++;
        reconnectTimer = loop.schedule(() -> startDial(edge), delay, TimeUnit.NANOSECONDS);
    }

    /** A dial succeeded: {@code c} becomes the live connection. */
    private void installed(Connection c, List<Join> sentJoins, boolean reconnect) {
        dialing = false;
        if (closed || !started) {
            end(c);
            return;
        }
        conn = c;
        live = c;
        AuthOk ok = c.authOk;
        if (ok.recovery() != Recovery.RECOVERED
                && (ok.recovery() != Recovery.NONE || ok.offset() != 0 || !ok.epoch().isEmpty())) {
            // Where the subscription starts. (Recovered keeps the client's own position: the replay moves it.)
            user.set(ok.offset(), ok.epoch());
        }
        // The Joins that travelled behind Auth have seqs 2, 3, ...; a room left meanwhile is left again.
        int seq = 1;
        for (Join j : sentJoins) {
            seq++;
            Room r = rooms.get(j.room());
            if (r == null) {
                c.pending.put(seq, body -> {});
                send(c, new Leave(j.room()));
                continue;
            }
            r.sentOn = c;
            r.joinedOn = null;
            c.pending.put(seq, joinReply(c, r));
        }
        for (Room r : rooms.values()) {
            if (r.sentOn != c) {
                r.joinedOn = null;
                sendJoin(c, r);
            }
        }
        if (c.down) {
            return; // a write above failed: the connection is already being replaced
        }
        ConnectEvent ev = new ConnectEvent(c.endpoint.toString(), c.transport.kind(), ok.connKey(), ok.user(),
                reconnect, c.transport.usedZeroRtt());
        emit(() -> {
            if (cfg.onConnect != null) {
                cfg.onConnect.onConnect(ev);
            }
        });
        if (ok.recovery() != Recovery.NONE) {
            // Before the replayed messages the reader is about to deliver.
            recovery(new RecoveryEvent(null, ok.recovery() == Recovery.RECOVERED, ok.offset(), ok.epoch()));
        }
        if (connecting != null) {
            succeed(connecting);
            connecting = null;
        }
        c.heartbeat = loop.scheduleAtFixedRate(() -> heartbeat(c), c.pingIntervalNanos, c.pingIntervalNanos,
                TimeUnit.NANOSECONDS);
        readers.newThread(() -> read(c)).start();
    }

    /** The reader thread of {@code c}: decodes every frame and hands it to the loop. */
    private void read(Connection c) {
        try {
            while (c.reader.next()) {
                c.lastReadNanos = System.nanoTime();
                Body b = c.reader.body();
                if (b == null) {
                    continue; // an op of a later revision
                }
                if (b instanceof Disconnect d) {
                    post(() -> lose(c, d.code(), d.reason()));
                    return;
                }
                int seq = c.reader.seq();
                post(() -> frame(c, seq, b));
            }
            post(() -> lose(c, transportCode(c), "connection closed by the server"));
        } catch (WireException e) {
            post(() -> lose(c, 0, "protocol error: " + e.getMessage()));
        } catch (IOException | RuntimeException e) {
            post(() -> lose(c, transportCode(c), String.valueOf(e.getMessage())));
        }
    }

    private static int transportCode(Connection c) {
        OptionalInt code = c.transport.closeCode();
        return code.isPresent() && isDisconnectCode(code.getAsInt()) ? code.getAsInt() : 0;
    }

    private static boolean isDisconnectCode(int code) {
        return code >= 3000 && code <= 3999;
    }

    /** One frame from the edge, on the loop. */
    private void frame(Connection c, int seq, Body b) {
        if (c.down) {
            return;
        }
        if (b instanceof Push p) {
            deliver(p);
        } else if (b instanceof Ping) {
            sendWithSeq(c, seq, new Pong());
        } else if (b instanceof Pong) {
            // A sign of life, recorded by the reader.
        } else if (b instanceof TokenExpiring) {
            refresh(c);
        } else if (b instanceof Subscribed sub) {
            subscribed(c, sub);
        } else if (b instanceof Unsubscribed u) {
            unsubscribed(c, u.room());
        } else if (b instanceof JoinLeave jl) {
            joinLeave(jl);
        } else {
            Connection.Reply r = c.pending.remove(seq);
            if (r != null) {
                r.answer(b);
            } else {
                cfg.log.log("debug", "answer to no pending request: " + b, null);
            }
        }
    }

    /**
     * The backend put the connection in a room: the client keeps it as if it had joined it. A Subscribed for a room
     * the client is in already carries no position and only marks the room server-side.
     */
    private void subscribed(Connection c, Subscribed sub) {
        Room r = rooms.computeIfAbsent(sub.room(), Room::new);
        r.serverSide = true;
        if (r.sentOn != c) {
            // A Join in flight keeps its own answer: its JoinOK completes the join() calls waiting on it.
            r.joinedOn = c;
        }
        position(r, sub.recovery(), sub.offset(), sub.epoch());
        String room = sub.room();
        emit(() -> {
            if (cfg.onSubscribed != null) {
                cfg.onSubscribed.onSubscribed(room);
            }
        });
    }

    /** The backend took the connection out of a room, or the edge refused to rejoin a server-side room. */
    private void unsubscribed(Connection c, String room) {
        Room r = rooms.get(room);
        if (r == null) {
            return; // left by the application meanwhile
        }
        if (r.sentOn == c) {
            // The edge answers the Join in flight after this: its answer decides whether the client is in.
            r.serverSide = false;
            r.joinedOn = null;
        } else {
            rooms.remove(room);
            r.joinedOn = null;
            QuicpushException err = new QuicpushException("unsubscribed from " + room + " by the server",
                    new IllegalStateException("unsubscribed"));
            for (CompletableFuture<Void> w : r.waiters) {
                fail(w, err);
            }
            r.waiters.clear();
        }
        emit(() -> {
            if (cfg.onUnsubscribed != null) {
                cfg.onUnsubscribed.onUnsubscribed(room);
            }
        });
    }

    /** A join and leave notice of a room the client is in. */
    private void joinLeave(JoinLeave jl) {
        Listeners.OnJoinLeave l = cfg.onJoinLeave;
        if (l == null || !rooms.containsKey(jl.room())) {
            return;
        }
        JoinLeaveEvent ev = new JoinLeaveEvent(jl.room(), members(jl.joined()), members(jl.left()), jl.omitted());
        emit(() -> l.onJoinLeave(ev));
    }

    /**
     * Applies the position group of a JoinOK or Subscribed: where the room's stream stands, unless the edge replays
     * from the client's own position (recovered), and the resume's answer. An absent group changes nothing.
     */
    private void position(Room r, int recovery, long offset, String epoch) {
        if (recovery == Recovery.NONE && offset == 0 && epoch.isEmpty()) {
            return;
        }
        if (recovery != Recovery.RECOVERED) {
            r.position.set(offset, epoch);
        }
        if (recovery != Recovery.NONE) {
            recovery(new RecoveryEvent(r.name, recovery == Recovery.RECOVERED, offset, epoch));
        }
    }

    /** Hands a push to the application, unless it is a repeat or belongs to a room the client left. */
    private void deliver(Push p) {
        Room r = null;
        if (p.kind() == Push.KIND_ROOM) {
            r = rooms.get(p.room());
            if (r == null) {
                return; // left
            }
        }
        if (!p.ephemeral()) {
            Position pos = r != null ? r.position : p.kind() == Push.KIND_DIRECT ? user : null;
            if (pos != null && !pos.advance(p.offset(), p.epoch())) {
                duplicates.incrementAndGet();
                return;
            }
        }
        Listeners.OnMessage l = r != null && r.listener != null ? r.listener : cfg.onMessage;
        if (l == null) {
            return;
        }
        Message m = new Message(p.kind(), p.room(), p.id(), p.offset(), p.epoch(), p.data(), p.ephemeral());
        emit(() -> l.onMessage(m));
    }

    /** A QUIC datagram (a Kwik thread): one whole ephemeral Push frame, or dropped and counted. */
    private void onDatagram(@Nullable Connection c, byte[] b) {
        if (c == null) {
            return; // before AuthOK: nothing is subscribed yet
        }
        try {
            Frames.Decoded d = Frames.decode(b, 0, b.length, cfg.maxFrame);
            if (d.body() instanceof Push p && p.ephemeral()) {
                post(() -> {
                    if (!c.down && c == conn) {
                        deliver(p);
                    }
                });
                return;
            }
        } catch (WireException e) {
            // counted below
        }
        badDatagrams.incrementAndGet();
    }

    private void heartbeat(Connection c) {
        if (c.down) {
            return;
        }
        long now = System.nanoTime();
        if (c.pingSentNanos != 0 && c.lastReadNanos - c.pingSentNanos < 0
                && now - c.pingSentNanos >= c.pingIntervalNanos) {
            lose(c, 0, "no answer to ping");
            return;
        }
        c.pingSentNanos = now;
        send(c, new Ping());
    }

    /** After a migration: a Ping must come back on the new path within the migrate timeout. */
    private void probe(Connection c) {
        if (c.down) {
            return;
        }
        long sent = System.nanoTime();
        send(c, new Ping());
        loop.schedule(() -> {
            if (c.down) {
                return;
            }
            if (c.lastReadNanos - sent < 0) {
                c.keepEdge = true;
                lose(c, 0, "no answer on the new network path");
            } else {
                migrations.incrementAndGet();
                cfg.log.log("info", "connection migrated to a new network path", null);
            }
        }, cfg.migrateTimeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    private void refresh(Connection c) {
        if (cfg.tokenSupplier == null) {
            return; // a fixed token: the edge closes with 3004 at expiry and the reconnect fails or succeeds
        }
        io.execute(() -> {
            String t;
            try {
                t = token();
            } catch (Exception e) {
                cfg.log.log("warn", "token refresh: no token", e);
                return;
            }
            post(() -> {
                if (c.down) {
                    return;
                }
                int seq = send(c, new Refresh(t));
                if (seq >= 0) {
                    c.pending.put(seq, body -> {
                        if (body instanceof RequestError e) {
                            cfg.log.log("warn", "token refresh refused: " + e.code() + " " + e.message(), null);
                        }
                    });
                }
            });
        });
    }

    private void sendJoin(Connection c, Room r) {
        r.sentOn = c;
        int seq = send(c, new Join(r.name, r.position.offset, r.position.epoch));
        if (seq >= 0) {
            c.pending.put(seq, joinReply(c, r));
        }
    }

    private Connection.Reply joinReply(Connection c, Room r) {
        return body -> {
            if (r.sentOn != c) {
                return; // left meanwhile
            }
            r.sentOn = null;
            if (body == null) {
                return; // the connection ended; the next one joins again
            }
            if (body instanceof RequestError e) {
                if (e.code() == Codes.INTERNAL_ERROR) {
                    // Not a refusal: the edge could not serve it this time. Ask again on the same connection.
                    r.tries++;
                    cfg.log.log("warn", "join " + r.name + " failed (104), retrying", null);
                    loop.schedule(() -> {
                        if (conn == c && !c.down && rooms.get(r.name) == r && r.joinedOn != c && r.sentOn == null) {
                            sendJoin(c, r);
                        }
                    }, backoff.delayNanos(r.tries), TimeUnit.NANOSECONDS);
                    return;
                }
                rooms.remove(r.name, r);
                QuicpushException err = new QuicpushException(e.code(), e.message());
                for (CompletableFuture<Void> w : r.waiters) {
                    fail(w, err);
                }
                r.waiters.clear();
                if (r.serverSide) {
                    // The backend took the user out while the client was away (docs/protocol.md section 6.8): the
                    // room is gone as if Unsubscribed had come, which is no error of the client's.
                    cfg.log.log("info", "rejoin of server-side room " + r.name + " refused (" + e.code()
                            + "): unsubscribed", null);
                    String room = r.name;
                    emit(() -> {
                        if (cfg.onUnsubscribed != null) {
                            cfg.onUnsubscribed.onUnsubscribed(room);
                        }
                    });
                }
                return;
            }
            if (!(body instanceof JoinOk ok)) {
                lose(c, 0, "protocol error: " + body + " answering join");
                return;
            }
            r.joinedOn = c;
            r.tries = 0;
            position(r, ok.recovery(), ok.offset(), ok.epoch());
            for (CompletableFuture<Void> w : r.waiters) {
                succeed(w);
            }
            r.waiters.clear();
        };
    }

    /** Writes one request; returns its seq, or -1 when the connection failed (and is now being replaced). */
    private int send(Connection c, Body b) {
        int seq = c.nextSeq();
        return sendWithSeq(c, seq, b) ? seq : -1;
    }

    private boolean sendWithSeq(Connection c, int seq, Body b) {
        if (c.down) {
            return false;
        }
        byte[] frame = Frames.encode(seq, b);
        try {
            synchronized (c.writeLock) {
                OutputStream out = c.transport.out();
                out.write(frame);
                out.flush();
            }
            return true;
        } catch (IOException | RuntimeException e) {
            lose(c, transportCode(c), "write: " + e.getMessage());
            return false;
        }
    }

    /** {@code c} ended with {@code code} (0: a network failure): report it, then reconnect or stop. */
    private void lose(Connection c, int code, String reason) {
        if (c.down) {
            return;
        }
        end(c);
        if (c != conn) {
            return;
        }
        conn = null;
        live = null;
        boolean again = !closed && started && Codes.reconnect(code);
        emit(() -> {
            if (cfg.onDisconnect != null) {
                cfg.onDisconnect.onDisconnect(new DisconnectEvent(code, reason, again));
            }
        });
        if (!again) {
            started = false;
            failWaiters(new QuicpushException(code, reason));
            return;
        }
        if (System.nanoTime() - c.upSinceNanos >= STABLE_NANOS) {
            attempt = 0;
        }
        int next = c.edge;
        if (!c.keepEdge && (code == Codes.SHUTDOWN || !isDisconnectCode(code))) {
            // A draining edge asks its clients to move; one lost without a code may be dead. Either is tried last.
            next = (c.edge + 1) % edges.size();
        }
        if (code == Codes.SHUTDOWN || c.keepEdge) {
            attempt = 0; // move within the first, shortest delay
        }
        scheduleReconnect(next);
    }

    /** Takes {@code c} down: no more reads, writes or heartbeats; pending requests learn it ended. */
    private void end(Connection c) {
        c.down = true;
        if (c.heartbeat != null) {
            c.heartbeat.cancel(false);
        }
        c.transport.close();
        List<Connection.Reply> pending = new ArrayList<>(c.pending.values());
        c.pending.clear();
        for (Connection.Reply r : pending) {
            r.answer(null);
        }
    }

    private void failWaiters(Exception e) {
        for (Room r : rooms.values()) {
            for (CompletableFuture<Void> w : r.waiters) {
                fail(w, e);
            }
            r.waiters.clear();
        }
    }

    private void recovery(RecoveryEvent ev) {
        emit(() -> {
            if (cfg.onRecovery != null) {
                cfg.onRecovery.onRecovery(ev);
            }
        });
    }

    // ---------------------------------------------------------------- plumbing

    private void post(Runnable r) {
        try {
            loop.execute(r);
        } catch (RejectedExecutionException e) {
            // closed
        }
    }

    private void post(Runnable r, CompletableFuture<?> f) {
        try {
            loop.execute(r);
        } catch (RejectedExecutionException e) {
            f.completeExceptionally(closedError());
        }
    }

    /** Runs an application callback on the callback executor; a callback that throws does not stop the client. */
    private void emit(Runnable r) {
        try {
            callbacks.execute(() -> {
                try {
                    r.run();
                } catch (RuntimeException e) {
                    cfg.log.log("warn", "a callback threw", e);
                }
            });
        } catch (RejectedExecutionException e) {
            // the application shut its executor down
        }
    }

    private void succeed(CompletableFuture<Void> f) {
        emit(() -> f.complete(null));
    }

    private void fail(CompletableFuture<?> f, Exception e) {
        emit(() -> f.completeExceptionally(e));
    }

    private static QuicpushException closedError() {
        return new QuicpushException("client closed", new IllegalStateException("closed"));
    }

    private static ThreadFactory daemon(String name) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    // ---------------------------------------------------------------- builder

    /** Settings of a {@link QuicpushClient}; every one has a documented default. */
    public static final class Builder {
        private final List<String> edgeSpecs;
        private @Nullable String token;
        private @Nullable TokenSupplier tokenSupplier;
        private final List<byte[]> certHashes = new ArrayList<>();
        private @Nullable X509TrustManager trustManager;
        private Duration dialTimeout = Duration.ofSeconds(5);
        private Duration quicFallbackTimeout = Duration.ofSeconds(1);
        private Duration requestTimeout = Duration.ofSeconds(10);
        private Duration migrateTimeout = Duration.ofSeconds(3);
        private Duration backoffMin = Duration.ofMillis(200);
        private Duration backoffMax = Duration.ofSeconds(20);
        private Duration quicKeepAlive = Duration.ZERO;
        private @Nullable Executor callbackExecutor;
        private Listeners.@Nullable OnMessage onMessage;
        private Listeners.@Nullable OnConnect onConnect;
        private Listeners.@Nullable OnDisconnect onDisconnect;
        private Listeners.@Nullable OnRecovery onRecovery;
        private Listeners.@Nullable OnSubscribed onSubscribed;
        private Listeners.@Nullable OnUnsubscribed onUnsubscribed;
        private Listeners.@Nullable OnJoinLeave onJoinLeave;
        private Listeners.Log log = (level, message, error) -> {};
        private SessionTicketStore tickets = SessionTicketStore.inMemory();
        private boolean zeroRtt = true;
        private boolean datagrams = true;
        private int maxFrame = Limits.MAX_FRAME;
        private @Nullable Dialer quicDialer;
        private @Nullable Dialer tcpDialer;

        private Builder(List<String> edges) {
            this.edgeSpecs = edges;
        }

        /** A fixed token (a JWT). Prefer {@link #tokenSupplier}: a fixed token cannot be refreshed. */
        public Builder token(String token) {
            this.token = token;
            return this;
        }

        /** Gets a token before every connect and when the edge says the current one expires soon. */
        public Builder tokenSupplier(TokenSupplier supplier) {
            this.tokenSupplier = supplier;
            return this;
        }

        /**
         * Pins the SHA-256 of the edge's leaf certificate (DER), as a development edge prints it; may be called
         * more than once (during a rotation). Chain and name checks are then off (docs/protocol.md section 2.5).
         */
        public Builder certHash(byte[] sha256) {
            if (sha256.length != 32) {
                throw new IllegalArgumentException("a certificate hash is 32 bytes (SHA-256), got " + sha256.length);
            }
            certHashes.add(sha256.clone());
            return this;
        }

        /**
         * {@link #certHash(byte[])} from text: 64 hex digits or base64, the two forms {@code quicpush serve}
         * prints.
         */
        public Builder certHash(String hexOrBase64) {
            String h = hexOrBase64.trim();
            if (h.length() == 64 && h.chars().allMatch(ch -> Character.digit(ch, 16) >= 0)) {
                byte[] b = new byte[32];
                for (int i = 0; i < 32; i++) {
                    b[i] = (byte) Integer.parseInt(h.substring(2 * i, 2 * i + 2), 16);
                }
                return certHash(b);
            }
            byte[] b;
            try {
                b = Base64.getDecoder().decode(h);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("a certificate hash is 64 hex digits or base64: " + h, e);
            }
            return certHash(b);
        }

        /** Checks the edge's certificate chain with this trust manager; default: the platform's trust. */
        public Builder trustManager(X509TrustManager tm) {
            this.trustManager = tm;
            return this;
        }

        /** The longest a dial and its Auth may take on one endpoint. Default 5 s. */
        public Builder dialTimeout(Duration d) {
            this.dialTimeout = positive(d, "dial timeout");
            return this;
        }

        /**
         * The dial timeout of a QUIC endpoint that has another endpoint after it: where UDP is blocked, the next
         * (TCP) endpoint is tried after this. Default 1 s.
         */
        public Builder quicFallbackTimeout(Duration d) {
            this.quicFallbackTimeout = positive(d, "QUIC fallback timeout");
            return this;
        }

        /** How long join and presence wait for the edge's answer. Default 10 s. */
        public Builder requestTimeout(Duration d) {
            this.requestTimeout = positive(d, "request timeout");
            return this;
        }

        /** How long a migrated QUIC connection has to answer a Ping on its new path. Default 3 s. */
        public Builder migrateTimeout(Duration d) {
            this.migrateTimeout = positive(d, "migrate timeout");
            return this;
        }

        /** Reconnect backoff: retry n waits a uniform time in [0, min(max, min × 2^n)). Default 200 ms, 20 s. */
        public Builder backoff(Duration min, Duration max) {
            this.backoffMin = positive(min, "backoff");
            this.backoffMax = positive(max, "backoff");
            return this;
        }

        /**
         * How often an idle QUIC connection sends a keep-alive packet, so that a NAT that rebinds the client's port
         * is noticed before the next push. Default: none beyond the heartbeat. Each costs radio time: see the
         * README's battery section.
         */
        public Builder quicKeepAlive(Duration d) {
            this.quicKeepAlive = d.isNegative() ? Duration.ZERO : d;
            return this;
        }

        /** Where callbacks run (Android: the main-thread executor). Default: one daemon thread of the client's. */
        public Builder callbackExecutor(Executor e) {
            this.callbackExecutor = e;
            return this;
        }

        public Builder onMessage(Listeners.OnMessage l) {
            this.onMessage = l;
            return this;
        }

        public Builder onConnect(Listeners.OnConnect l) {
            this.onConnect = l;
            return this;
        }

        public Builder onDisconnect(Listeners.OnDisconnect l) {
            this.onDisconnect = l;
            return this;
        }

        public Builder onRecovery(Listeners.OnRecovery l) {
            this.onRecovery = l;
            return this;
        }

        /** Told of each room the application's backend puts the client in (revision 5). Default: none. */
        public Builder onSubscribed(Listeners.OnSubscribed l) {
            this.onSubscribed = l;
            return this;
        }

        /** Told of each server-side room the client is taken out of (revision 5). Default: none. */
        public Builder onUnsubscribed(Listeners.OnUnsubscribed l) {
            this.onUnsubscribed = l;
            return this;
        }

        /** Receives join and leave notices of the client's rooms (revision 5). Default: dropped. */
        public Builder onJoinLeave(Listeners.OnJoinLeave l) {
            this.onJoinLeave = l;
            return this;
        }

        /** Receives diagnostics (Android: forward to android.util.Log). Default: dropped. */
        public Builder log(Listeners.Log l) {
            this.log = l;
            return this;
        }

        /** Where QUIC session tickets are kept (for 0-RTT). Default: in memory. */
        public Builder sessionTickets(SessionTicketStore store) {
            this.tickets = store;
            return this;
        }

        /** Whether a QUIC reconnect with a ticket sends Auth and the rejoins as 0-RTT data. Default true. */
        public Builder zeroRtt(boolean on) {
            this.zeroRtt = on;
            return this;
        }

        /** Whether QUIC datagrams carry ephemeral pushes (otherwise the edge sends them on the stream). Default true. */
        public Builder datagrams(boolean on) {
            this.datagrams = on;
            return this;
        }

        /** The largest frame accepted from the edge. Default and minimum 65536 (docs/protocol.md section 9). */
        public Builder maxFrame(int n) {
            this.maxFrame = Math.max(n, Limits.MAX_FRAME);
            return this;
        }

        Builder dialers(@Nullable Dialer quic, @Nullable Dialer tcp) {
            this.quicDialer = quic;
            this.tcpDialer = tcp;
            return this;
        }

        /** Checks the settings and returns the client; it does not connect: call {@link QuicpushClient#connect()}. */
        public QuicpushClient build() {
            if (edgeSpecs.isEmpty()) {
                throw new IllegalArgumentException("no edge given");
            }
            if (token == null && tokenSupplier == null) {
                throw new IllegalArgumentException("a token or a token supplier is required");
            }
            List<List<Endpoint>> edges = new ArrayList<>();
            for (String spec : edgeSpecs) {
                List<Endpoint> eps = new ArrayList<>();
                for (String url : spec.trim().split("\\s+")) {
                    if (!url.isEmpty()) {
                        eps.add(Endpoint.parse(url));
                    }
                }
                if (eps.isEmpty()) {
                    throw new IllegalArgumentException("edge \"" + spec + "\" has no endpoint");
                }
                edges.add(List.copyOf(eps));
            }
            return new QuicpushClient(copy(), List.copyOf(edges));
        }

        /** A snapshot for one client, so that changing the builder afterwards changes no client built from it. */
        private Builder copy() {
            Builder b = new Builder(List.copyOf(edgeSpecs));
            b.token = token;
            b.tokenSupplier = tokenSupplier;
            b.certHashes.addAll(certHashes);
            b.trustManager = trustManager;
            b.dialTimeout = dialTimeout;
            b.quicFallbackTimeout = quicFallbackTimeout;
            b.requestTimeout = requestTimeout;
            b.migrateTimeout = migrateTimeout;
            b.backoffMin = backoffMin;
            b.backoffMax = backoffMax;
            b.quicKeepAlive = quicKeepAlive;
            b.callbackExecutor = callbackExecutor;
            b.onMessage = onMessage;
            b.onConnect = onConnect;
            b.onDisconnect = onDisconnect;
            b.onRecovery = onRecovery;
            b.onSubscribed = onSubscribed;
            b.onUnsubscribed = onUnsubscribed;
            b.onJoinLeave = onJoinLeave;
            b.log = log;
            b.tickets = tickets;
            b.zeroRtt = zeroRtt;
            b.datagrams = datagrams;
            b.maxFrame = maxFrame;
            b.quicDialer = quicDialer;
            b.tcpDialer = tcpDialer;
            return b;
        }

        private static Duration positive(Duration d, String what) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(what + " must be positive");
            }
            return d;
        }
    }
}
