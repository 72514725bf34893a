package io.github.quicpush.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.github.quicpush.client.testing.ServerProcess;
import io.github.quicpush.client.wire.Codes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Protocol revision 5 against a real {@code quicpush serve}, on every transport: server-side rooms (the push API's
 * Subscribe and Unsubscribe, docs/protocol.md section 6.8) and across a reconnect, join and leave notices (6.9) and
 * presence for clients (6.10), each turned on or off by the server's namespaces (docs/namespaces.md).
 */
class RoomsE2ETest {
    private static final Duration WAIT = Duration.ofSeconds(15);
    /** Notices and presence are on; a room of the default namespace ({@code java-N}) has both off. */
    private static final String CHAT = "chat/";
    /** Only the backend puts connections in these rooms. */
    private static final String TEAM = "team/";
    private static ServerProcess server;
    /**
     * Names every test's users and rooms afresh: the server remembers a user's server-side rooms, so a user shared
     * between tests would carry one test's subscriptions into the next.
     */
    private static final AtomicInteger ids = new AtomicInteger();

    @BeforeAll
    static void start() throws Exception {
        server = ServerProcess.start("--ping-interval", "1s",
                "--namespace", CHAT + ":join-leave=on,client-presence=on",
                "--namespace", TEAM + ":join=server");
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    private static String url(String scheme) {
        return switch (scheme) {
            case "quic" -> "quic://127.0.0.1:" + server.quicPort();
            case "tcp" -> "tcp://127.0.0.1:" + server.tcpPort();
            default -> "tls://127.0.0.1:" + server.tcpPort();
        };
    }

    /** A client of {@code user} whose token allows every room: what it is refused, its namespace refuses. */
    private static QuicpushClient.Builder client(Recorder rec, String scheme, String token) {
        return rec.attach(QuicpushClient.builder(url(scheme))
                .token(token)
                .certHash(server.certHash())
                .backoff(Duration.ofMillis(50), Duration.ofMillis(500)));
    }

    private static QuicpushClient connected(Recorder rec, String scheme, String token) throws Exception {
        QuicpushClient c = client(rec, scheme, token).build();
        c.connect().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        rec.connect();
        return c;
    }

    private static String token(String user) throws Exception {
        return server.token(user, "*", Duration.ofMinutes(10));
    }

    private static void push(String room, String text) throws Exception {
        server.call("PushRoom", "{\"room\":\"" + room + "\",\"text\":\"" + text + "\"}");
    }

    private static void subscribe(String method, String room, String user) throws Exception {
        server.call(method, "{\"room\":\"" + room + "\",\"users\":[\"" + user + "\"]}");
    }

    private static void join(QuicpushClient c, String room) throws Exception {
        c.join(room).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** The request error code {@code f} fails with. */
    private static int refusal(CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> f.get(WAIT.toMillis(), TimeUnit.MILLISECONDS));
        return assertInstanceOf(QuicpushException.class, e.getCause()).code();
    }

    @ParameterizedTest
    @ValueSource(strings = {"quic", "tcp", "tls"})
    void backendSubscribesAndUnsubscribes(String scheme) throws Exception {
        int id = ids.incrementAndGet();
        String user = "sub-" + id;
        String team = TEAM + id;
        String other = "java-" + id;
        Recorder rec = new Recorder();
        try (QuicpushClient c = connected(rec, scheme, token(user))) {
            assertEquals(Codes.FORBIDDEN, refusal(c.join(team)), "a join=server room is not the client's to join");

            // In no room, the client is put in one by the backend.
            subscribe("Subscribe", team, user);
            assertEquals(team, rec.subscribed());
            push(team, "s1");
            Message m = rec.message();
            assertEquals("s1", m.text());
            assertEquals(Message.ROOM, m.kind());
            assertEquals(team, m.room());

            join(c, other); // for the marker below
            subscribe("Unsubscribe", team, user);
            assertEquals(team, rec.unsubscribed());
            push(team, "after unsubscribe");
            push(other, "marker");
            assertEquals("marker", rec.message().text());
            rec.noMoreMessages();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"quic", "tcp", "tls"})
    void serverSideRoomsSurviveAReconnect(String scheme) throws Exception {
        int id = ids.incrementAndGet();
        String user = "resub-" + id;
        String kept = TEAM + id + "a";
        String added = TEAM + id + "b";
        String token = token(user);
        CountDownLatch away = new CountDownLatch(1);
        AtomicInteger connects = new AtomicInteger();
        Recorder rec = new Recorder();
        try (QuicpushClient c = rec.attach(QuicpushClient.builder(url(scheme))
                        .tokenSupplier(() -> {
                            // Every connect after the first waits for the test: what happens meanwhile is missed.
                            if (connects.incrementAndGet() > 1) {
                                away.await();
                            }
                            return token;
                        })
                        .certHash(server.certHash())
                        .backoff(Duration.ofMillis(50), Duration.ofMillis(500)))
                .build()) {
            c.connect().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            rec.connect();
            subscribe("Subscribe", kept, user);
            assertEquals(kept, rec.subscribed());
            push(kept, "m1");
            assertEquals("m1", rec.message().text());
            rec.recoveries.clear(); // the first connection's answers

            server.call("Disconnect", "{\"keys\":[\"" + c.connKey() + "\"],\"reconnect\":true}");
            DisconnectEvent d = rec.disconnect();
            assertEquals(Codes.DISCONNECTED_BY_SERVER, d.code());
            assertTrue(d.reconnect());
            push(kept, "m2");
            push(kept, "m3");
            subscribe("Subscribe", added, user); // the user has no connection now: the server remembers it
            away.countDown();

            assertTrue(rec.connect().reconnect());
            RecoveryEvent r = rec.recovery(kept);
            assertTrue(r.recovered(), "the server-side room is rejoined from its position");
            assertEquals(List.of("m2", "m3"), rec.texts(2));
            assertEquals(added, rec.subscribed(), "the room given while away arrives after the rejoins");
            push(added, "b1");
            Message m = rec.message();
            assertEquals("b1", m.text());
            assertEquals(added, m.room());
            rec.noMoreMessages();
            assertEquals(List.of(), new ArrayList<>(rec.subscribed), "the rejoined room is not subscribed again");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"quic", "tcp", "tls"})
    void joinAndLeaveNotices(String scheme) throws Exception {
        int id = ids.incrementAndGet();
        String chat = CHAT + id;
        String quiet = "java-" + id;
        String infoB = "{\"name\":\"Bea " + id + "\"}";
        Recorder recA = new Recorder();
        Recorder recB = new Recorder();
        try (QuicpushClient a = connected(recA, scheme, server.token("a-" + id, "*", WAIT, "{\"name\":\"Al\"}"));
                QuicpushClient b = connected(recB, scheme, server.token("b-" + id, "*", WAIT, infoB))) {
            join(a, chat);
            join(a, quiet);
            join(b, quiet);
            join(b, chat);
            String keyB = b.connKey();

            Member joined = awaitMember(recA, chat, true, keyB);
            assertEquals(new Member("b-" + id, keyB, infoB), joined);
            assertEquals(joined, awaitMember(recB, chat, true, keyB), "a connection hears its own join");

            b.leave(quiet).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            b.leave(chat).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertEquals(joined, awaitMember(recA, chat, false, keyB));
            // The leave's notice came at least one notice interval after the join's, and so after the quiet room's
            // changes had had a full interval to be sent: none was.
            for (JoinLeaveEvent ev : new ArrayList<>(recA.joinLeaves)) {
                assertEquals(chat, ev.room(), "a notice for a room of a namespace without them");
            }
        }
    }

    /**
     * Waits for the notice of {@code room} that lists connection {@code key} as joined (or left), and returns its
     * entry; every notice before it must be of {@code room} too.
     */
    private static Member awaitMember(Recorder rec, String room, boolean joined, String key) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            JoinLeaveEvent ev = rec.joinLeaves.poll(100, TimeUnit.MILLISECONDS);
            if (ev == null) {
                continue;
            }
            assertEquals(room, ev.room(), "a notice for a room of a namespace without them");
            for (Member m : joined ? ev.joined() : ev.left()) {
                if (m.connKey().equals(key)) {
                    return m;
                }
            }
        }
        return fail("no notice of " + key + (joined ? " joining " : " leaving ") + room + " within " + WAIT);
    }

    @ParameterizedTest
    @ValueSource(strings = {"quic", "tcp", "tls"})
    void presenceForClients(String scheme) throws Exception {
        int id = ids.incrementAndGet();
        String chat = CHAT + id;
        String quiet = "java-" + id;
        String infoA = "{\"name\":\"Al\",\"n\":" + id + "}";
        Recorder recA = new Recorder();
        Recorder recB = new Recorder();
        try (QuicpushClient a = connected(recA, scheme, server.token("a-" + id, "*", WAIT, infoA));
                QuicpushClient b = connected(recB, scheme, token("b-" + id))) {
            for (QuicpushClient c : List.of(a, b)) {
                join(c, chat);
                join(c, quiet);
            }

            Presence p = a.presence(chat).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertEquals(chat, p.room());
            assertEquals(2, p.conns());
            assertEquals(2, p.users());
            assertTrue(p.complete());
            assertEquals(Set.of(new Member("a-" + id, a.connKey(), infoA), new Member("b-" + id, b.connKey(), "")),
                    Set.copyOf(p.members()));

            assertEquals(Codes.FORBIDDEN, refusal(a.presence(quiet)), "presence is off in the default namespace");
            assertEquals(Codes.NOT_JOINED, refusal(a.presence(CHAT + id + "-elsewhere")));
        }
    }
}
