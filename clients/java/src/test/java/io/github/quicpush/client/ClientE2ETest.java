package io.github.quicpush.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quicpush.client.testing.ServerProcess;
import io.github.quicpush.client.testing.TcpRelay;
import io.github.quicpush.client.testing.UdpRelay;
import io.github.quicpush.client.wire.Codes;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The client against a real {@code quicpush serve}: every transport, UDP blocked, resume after a server-side and a
 * client-side cut, a bad token, a drain, token refresh, migration, 0-RTT and ephemeral pushes.
 */
class ClientE2ETest {
    private static final Duration WAIT = Duration.ofSeconds(15);
    private static ServerProcess server;
    private static final AtomicInteger rooms = new AtomicInteger();

    @BeforeAll
    static void start() throws Exception {
        server = ServerProcess.start("--ping-interval", "1s");
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    private static String room() {
        return "java-" + rooms.incrementAndGet();
    }

    private static String quic(ServerProcess s) {
        return "quic://127.0.0.1:" + s.quicPort();
    }

    private static String tcp(ServerProcess s) {
        return "tcp://127.0.0.1:" + s.tcpPort();
    }

    private static String tls(ServerProcess s) {
        return "tls://127.0.0.1:" + s.tcpPort();
    }

    private static QuicpushClient.Builder client(Recorder rec, ServerProcess s, String room, String... edges)
            throws Exception {
        String token = s.token("alice", room + ",java-*", Duration.ofMinutes(10));
        return rec.attach(QuicpushClient.builder(edges)
                .token(token)
                .certHash(java.util.HexFormat.of().formatHex(s.certHash())) // as the banner prints it
                .backoff(Duration.ofMillis(50), Duration.ofMillis(500)));
    }

    private static void push(ServerProcess s, String room, String text) throws Exception {
        s.call("PushRoom", "{\"room\":\"" + room + "\",\"text\":\"" + text + "\"}");
    }

    private static void join(QuicpushClient c, String room) throws Exception {
        c.join(room).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    @ParameterizedTest
    @ValueSource(strings = {"quic", "tcp", "tls"})
    void receivesRoomPushesInOrderOnEveryTransport(String scheme) throws Exception {
        String url = switch (scheme) {
            case "quic" -> quic(server);
            case "tcp" -> tcp(server);
            default -> tls(server);
        };
        Recorder rec = new Recorder();
        String room = room();
        try (QuicpushClient c = client(rec, server, room, url).build()) {
            c.connect().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            ConnectEvent ev = rec.connect();
            assertEquals(scheme, ev.transport());
            assertEquals(url, ev.endpoint());
            assertEquals("alice", ev.user());
            assertFalse(ev.reconnect());
            join(c, room);
            for (int i = 1; i <= 20; i++) {
                push(server, room, "m" + i);
            }
            for (int i = 1; i <= 20; i++) {
                Message m = rec.message();
                assertEquals("m" + i, m.text());
                assertEquals(Message.ROOM, m.kind());
                assertEquals(room, m.room());
                assertFalse(m.epoch().isEmpty(), "a room message has a position");
            }
            rec.noMoreMessages();
        }
    }

    @Test
    void perRoomListenerAndDirectPushes() throws Exception {
        Recorder rec = new Recorder();
        String a = room();
        String b = room();
        java.util.concurrent.LinkedBlockingQueue<Message> onB = new java.util.concurrent.LinkedBlockingQueue<>();
        try (QuicpushClient c = client(rec, server, a, quic(server)).build()) {
            c.connect().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            join(c, a);
            c.join(b, onB::add).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            push(server, b, "for b");
            push(server, a, "for a");
            assertEquals("for b", Recorder.next(onB, WAIT, "room b message").text());
            assertEquals("for a", rec.message().text());
            server.call("PushKeys", "{\"keys\":[\"" + c.connKey() + "\"],\"text\":\"to the key\"}");
            Message m = rec.message();
            assertEquals("to the key", m.text());
            assertEquals(Message.DIRECT, m.kind());
            c.leave(b).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            push(server, b, "after leave");
            push(server, a, "marker");
            assertEquals("marker", rec.message().text());
            assertTrue(onB.isEmpty(), "a left room's message arrived");
        }
    }

    @Test
    void udpBlockedFallsBackToTcpWithinASecond() throws Exception {
        // A bound UDP socket that never answers: QUIC's packets vanish, as on a network that drops UDP.
        try (DatagramSocket hole = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            Recorder rec = new Recorder();
            String room = room();
            String edge = "quic://127.0.0.1:" + hole.getLocalPort() + " " + tcp(server);
            try (QuicpushClient c = client(rec, server, room, edge).build()) {
                long t0 = System.nanoTime();
                c.connect().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                assertEquals("tcp", rec.connect().transport());
                assertTrue(ms < 2_500, "fallback took " + ms + " ms");
                join(c, room);
                push(server, room, "over tcp");
                assertEquals("over tcp", rec.message().text());
            }
        }
    }

    @Test
    void resumesAfterServerSideDisconnect() throws Exception {
        Recorder rec = new Recorder();
        String room = room();
        CountDownLatch gate = new CountDownLatch(1);
        AtomicInteger tokens = new AtomicInteger();
        String token = server.token("alice", room, Duration.ofMinutes(10));
        try (QuicpushClient c = rec.attach(QuicpushClient.builder(quic(server))
                        .tokenSupplier(() -> {
                            // Every connect after the first waits for the test: the pushes below are surely missed.
                            if (tokens.incrementAndGet() > 1) {
                                gate.await();
                            }
                            return token;
                        })
                        .certHash(server.certHash())
                        .backoff(Duration.ofMillis(50), Duration.ofMillis(500)))
                .build()) {
            c.connect().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            join(c, room);
            for (int i = 1; i <= 3; i++) {
                push(server, room, "m" + i);
            }
            assertEquals(List.of("m1", "m2", "m3"), rec.texts(3));
            rec.connect();
            server.call("Disconnect", "{\"keys\":[\"" + c.connKey() + "\"],\"reconnect\":true}");
            DisconnectEvent d = rec.disconnect();
            assertEquals(Codes.DISCONNECTED_BY_SERVER, d.code());
            assertTrue(d.reconnect());
            for (int i = 4; i <= 6; i++) {
                push(server, room, "m" + i);
            }
            gate.countDown();
            assertTrue(rec.connect().reconnect());
            RecoveryEvent u = rec.recovery();
            assertEquals(null, u.room(), "the user stream's answer comes with AuthOK, first");
            RecoveryEvent r = rec.recovery(room);
            assertTrue(r.recovered(), "the missed messages are replayed");
            assertEquals(List.of("m4", "m5", "m6"), rec.texts(3));
            push(server, room, "m7");
            assertEquals("m7", rec.message().text());
            rec.noMoreMessages();
        }
    }

    @Test
    void resumesAfterClientSideNetworkCutOnTcp() throws Exception {
        try (TcpRelay relay = new TcpRelay(server.tcpPort())) {
            Recorder rec = new Recorder();
            String room = room();
            try (QuicpushClient c = client(rec, server, room, "tcp://127.0.0.1:" + relay.port()).build()) {
                connectAndReceive(c, rec, room);
                resumesAcrossACut(rec, room, () -> {
                    relay.refuse(true);
                    relay.cut();
                }, () -> relay.refuse(false));
            }
        }
    }

    @Test
    void resumesAfterClientSideNetworkCutOnQuic() throws Exception {
        try (UdpRelay relay = new UdpRelay(server.quicPort())) {
            Recorder rec = new Recorder();
            String room = room();
            try (QuicpushClient c = client(rec, server, room, "quic://127.0.0.1:" + relay.port())
                    .dialTimeout(Duration.ofSeconds(1))
                    .build()) {
                connectAndReceive(c, rec, room);
                // Only the heartbeat can tell: the edge's ping interval is 1 s.
                resumesAcrossACut(rec, room, () -> relay.blackhole(true), () -> relay.blackhole(false));
            }
        }
    }

    /** Connects c, joins room and receives a first message, m1. */
    private static void connectAndReceive(QuicpushClient c, Recorder rec, String room) throws Exception {
        c.connect().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        rec.connect();
        join(c, room);
        push(server, room, "m1");
        assertEquals("m1", rec.message().text());
    }

    /**
     * Cuts the client's network: the client sees a network failure (code 0) and means to reconnect; m2 and m3 are
     * pushed while it is away; once the network is restored it reconnects and the room's resume replays them.
     */
    private static void resumesAcrossACut(Recorder rec, String room, Runnable cut, Runnable restore)
            throws Exception {
        cut.run();
        DisconnectEvent d = rec.disconnect();
        assertEquals(0, d.code(), "a network failure has no code");
        assertTrue(d.reconnect());
        push(server, room, "m2");
        push(server, room, "m3");
        restore.run();
        assertTrue(rec.connect().reconnect());
        assertTrue(rec.recovery(room).recovered());
        assertEquals(List.of("m2", "m3"), rec.texts(2));
        rec.noMoreMessages();
    }

    @Test
    void disconnectThenConnectResumesWhereItLeftOff() throws Exception {
        Recorder rec = new Recorder();
        String room = room();
        try (QuicpushClient c = client(rec, server, room, quic(server)).build()) {
            connectAndReceive(c, rec, room);
            c.disconnect().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            DisconnectEvent d = rec.disconnect();
            assertFalse(d.reconnect());
            assertFalse(c.isConnected());
            push(server, room, "m2"); // while the app is in the background
            push(server, room, "m3");
            c.connect().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertTrue(rec.recovery(room).recovered());
            assertEquals(List.of("m2", "m3"), rec.texts(2));
            rec.noMoreMessages();
        }
    }

    @Test
    void badTokenFailsConnectWithoutRetry() throws Exception {
        Recorder rec = new Recorder();
        try (QuicpushClient c = rec.attach(QuicpushClient.builder(quic(server) + " " + tcp(server))
                        .token("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.bad-signature")
                        .certHash(server.certHash()))
                .build()) {
            ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                    () -> c.connect().get(WAIT.toMillis(), TimeUnit.MILLISECONDS));
            QuicpushException q = (QuicpushException) e.getCause();
            assertTrue(new DisconnectEvent(q.code(), "", false).refused());
            assertEquals(Codes.INVALID_TOKEN, q.code());
            assertFalse(q.retryable());
            assertFalse(c.isConnected());
        }
    }

    @Test
    void drainMovesToTheNextEdge() throws Exception {
        try (ServerProcess a = ServerProcess.start("--ping-interval", "1s");
                ServerProcess b = ServerProcess.start("--ping-interval", "1s")) {
            Recorder rec = new Recorder();
            String room = room();
            // Both development edges share no secret: one token signed by each would be needed; b's secret
            // verifies b's tokens only, so the client takes its token from the edge it reaches.
            String tokA = a.token("alice", room, Duration.ofMinutes(10));
            String tokB = b.token("alice", room, Duration.ofMinutes(10));
            AtomicInteger calls = new AtomicInteger();
            try (QuicpushClient c = rec.attach(QuicpushClient.builder(quic(a), quic(b))
                            .tokenSupplier(() -> calls.incrementAndGet() == 1 ? tokA : tokB)
                            .certHash(a.certHash())
                            .certHash(b.certHash())
                            .backoff(Duration.ofMillis(50), Duration.ofMillis(500)))
                    .build()) {
                c.connect().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
                assertEquals(quic(a), rec.connect().endpoint());
                join(c, room);
                a.drain();
                DisconnectEvent d = rec.disconnect();
                assertEquals(Codes.SHUTDOWN, d.code());
                assertTrue(d.reconnect());
                ConnectEvent moved = rec.connect();
                assertEquals(quic(b), moved.endpoint(), "a drained edge's clients move to the next edge");
                assertTrue(moved.reconnect());
                RecoveryEvent r = rec.recovery(room);
                assertFalse(r.recovered(), "another edge's stream has another epoch: the position cannot be resumed");
                // The room is joined again on the new edge before the test pushes there.
                long deadline = System.nanoTime() + WAIT.toNanos();
                String got = null;
                while (got == null && System.nanoTime() < deadline) {
                    push(b, room, "on b");
                    Message m = rec.messages.poll(200, TimeUnit.MILLISECONDS);
                    got = m == null ? null : m.text();
                }
                assertEquals("on b", got);
            }
        }
    }

    @Test
    void tokenRefreshKeepsTheConnection() throws Exception {
        try (ServerProcess s = ServerProcess.start("--refresh-ahead", "2s", "--ping-interval", "1s")) {
            Recorder rec = new Recorder();
            String room = room();
            AtomicInteger calls = new AtomicInteger();
            CountDownLatch refreshed = new CountDownLatch(3);
            try (QuicpushClient c = rec.attach(QuicpushClient.builder(quic(s))
                            .tokenSupplier(() -> {
                                calls.incrementAndGet();
                                String t = s.token("alice", room, Duration.ofSeconds(3));
                                refreshed.countDown();
                                return t;
                            })
                            .certHash(s.certHash()))
                    .build()) {
                c.connect().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
                String key = c.connKey();
                join(c, room);
                // The first token and two refreshes: past two token lifetimes on one connection.
                assertTrue(refreshed.await(15, TimeUnit.SECONDS), "refreshes: " + calls.get());
                Thread.sleep(1_500); // past the second token's expiry had it not been refreshed
                rec.noDisconnect();
                assertEquals(key, c.connKey());
                push(s, room, "still here");
                assertEquals("still here", rec.message().text());
            }
        }
    }

    @Test
    void migratesToANewNetworkWithoutReconnecting() throws Exception {
        Recorder rec = new Recorder();
        String room = room();
        try (QuicpushClient c = client(rec, server, room, quic(server)).build()) {
            c.connect().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            rec.connect();
            join(c, room);
            String key = c.connKey();
            for (int i = 1; i <= 2; i++) {
                c.networkChanged();
                long deadline = System.nanoTime() + WAIT.toNanos();
                while (c.migrations() < i && System.nanoTime() < deadline && rec.disconnects.isEmpty()) {
                    Thread.sleep(20);
                }
                rec.noDisconnect();
                assertEquals(i, c.migrations(), "migrations");
                push(server, room, "after move " + i);
                assertEquals("after move " + i, rec.message().text());
            }
            assertEquals(key, c.connKey(), "the same connection");
            assertTrue(rec.connects.isEmpty(), "no reconnect");
        }
    }

    @Test
    void survivesNatRebindingWithoutReconnecting() throws Exception {
        try (UdpRelay relay = new UdpRelay(server.quicPort())) {
            Recorder rec = new Recorder();
            String room = room();
            try (QuicpushClient c = client(rec, server, room, "quic://127.0.0.1:" + relay.port()).build()) {
                c.connect().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
                rec.connect();
                join(c, room);
                String key = c.connKey();
                for (int i = 1; i <= 3; i++) {
                    relay.rebind();
                    // Pushed to the old port: the edge learns the new one from the client's next packet (its
                    // heartbeat, 1 s here) and sends it again there.
                    push(server, room, "after rebinding " + i);
                    assertEquals("after rebinding " + i, rec.message().text());
                }
                rec.noDisconnect();
                assertTrue(rec.connects.isEmpty(), "no reconnect");
                assertEquals(key, c.connKey());
            }
        }
    }

    @Test
    void networkChangedOnTcpReconnectsAndResumes() throws Exception {
        Recorder rec = new Recorder();
        String room = room();
        try (QuicpushClient c = client(rec, server, room, tcp(server)).build()) {
            connectAndReceive(c, rec, room);
            c.networkChanged();
            assertEquals(0, rec.disconnect().code());
            assertTrue(rec.connect().reconnect());
            push(server, room, "m2");
            assertEquals("m2", rec.message().text());
            rec.noMoreMessages();
        }
    }

    @Test
    void reconnectsWithZeroRtt() throws Exception {
        String room = room();
        CountDownLatch saved = new CountDownLatch(1);
        SessionTicketStore mem = SessionTicketStore.inMemory();
        SessionTicketStore store = new SessionTicketStore() {
            @Override
            public byte[] load(String endpoint) {
                return mem.load(endpoint);
            }

            @Override
            public void save(String endpoint, byte[] ticket) {
                mem.save(endpoint, ticket);
                saved.countDown();
            }
        };
        Recorder first = new Recorder();
        try (QuicpushClient c = client(first, server, room, quic(server)).sessionTickets(store).build()) {
            c.connect().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertFalse(first.connect().zeroRtt());
            assertTrue(saved.await(10, TimeUnit.SECONDS), "no session ticket saved");
        }
        Recorder rec = new Recorder();
        try (QuicpushClient c = client(rec, server, room, quic(server)).sessionTickets(store).build()) {
            c.join(room); // remembered before connect: it travels with Auth as 0-RTT data
            c.connect().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertTrue(rec.connect().zeroRtt(), "Auth went as 0-RTT data");
            join(c, room);
            push(server, room, "early");
            assertEquals("early", rec.message().text());
        }
    }

    @Test
    void ephemeralPushesArrive() throws Exception {
        Recorder rec = new Recorder();
        String room = room();
        try (QuicpushClient c = client(rec, server, room, quic(server)).build()) {
            c.connect().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            join(c, room);
            server.call("PushRoom", "{\"room\":\"" + room + "\",\"text\":\"pos 1\",\"ephemeral\":true}");
            Message m = rec.message();
            assertEquals("pos 1", m.text());
            assertTrue(m.ephemeral());
            assertEquals(0, m.offset());
            assertEquals("", m.epoch());
            // Too large for a datagram: the edge sends it on the stream, still ephemeral.
            String big = "x".repeat(4000);
            server.call("PushRoom", "{\"room\":\"" + room + "\",\"data\":\""
                    + Base64.getEncoder().encodeToString(big.getBytes(java.nio.charset.StandardCharsets.UTF_8))
                    + "\",\"ephemeral\":true}");
            Message m2 = rec.message();
            assertEquals(big, m2.text());
            assertTrue(m2.ephemeral());
            assertEquals(0, c.badDatagrams());
        }
    }

    @Test
    void closeEndsTheClientsThreads() throws Exception {
        Recorder rec = new Recorder();
        String room = room();
        QuicpushClient c = client(rec, server, room, quic(server)).build();
        c.connect().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        join(c, room);
        c.close();
        DisconnectEvent d = rec.disconnect();
        assertFalse(d.reconnect());
        assertFalse(d.refused(), "closed by the application, not refused by the edge");
        assertFalse(c.isConnected());
        CompletionException e = org.junit.jupiter.api.Assertions.assertThrows(CompletionException.class,
                () -> c.join("other").join());
        assertNotEquals(null, e.getCause());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (System.nanoTime() < deadline && !quicpushThreads().isEmpty()) {
            Thread.sleep(20);
        }
        assertEquals(List.of(), quicpushThreads(), "client threads left after close");
    }

    private static List<String> quicpushThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().matches("quicpush-(loop|io|reader|callbacks)-\\d+"))
                .map(Thread::getName)
                .toList();
    }
}
