package io.github.quicpush.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import io.github.quicpush.client.wire.Limits;
import io.github.quicpush.client.wire.Ping;
import io.github.quicpush.client.wire.PresenceGet;
import io.github.quicpush.client.wire.PresenceOk;
import io.github.quicpush.client.wire.Push;
import io.github.quicpush.client.wire.RequestError;
import io.github.quicpush.client.wire.Subscribed;
import io.github.quicpush.client.wire.Unsubscribed;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The client's protocol behaviour against a scripted edge in memory: what the first flight carries after a
 * reconnect, duplicates dropped by position, codes that stop the client, skipped ops, refused and retried joins,
 * bad datagrams, the heartbeat, and revision 5: server-side rooms, join and leave notices and presence. The end-to-end tests (ClientE2ETest) cover the same against a real edge where
 * a real edge can be made to do it.
 */
class ClientBehaviourTest {

    /** One scripted connection: the test reads what the client wrote and writes what the edge says. */
    static final class FakeConn implements Transport {
        final byte[] firstFlight;
        final PipedInputStream clientIn = new PipedInputStream(1 << 20);
        final PipedOutputStream edgeOut;
        final PipedInputStream edgeIn = new PipedInputStream(1 << 20);
        final PipedOutputStream clientOut;
        final FrameReader fromClient;
        volatile boolean closed;
        java.util.function.Consumer<byte[]> datagrams;

        FakeConn(byte[] firstFlight, java.util.function.Consumer<byte[]> datagrams) throws IOException {
            this.firstFlight = firstFlight;
            this.edgeOut = new PipedOutputStream(clientIn);
            this.clientOut = new PipedOutputStream(edgeIn);
            this.fromClient = new FrameReader(edgeIn, Limits.MAX_FRAME);
            this.datagrams = datagrams;
        }

        /** The frames of the first flight (Auth, then the rejoins). */
        List<Body> flight() throws IOException {
            FrameReader r = new FrameReader(new ByteArrayInputStream(firstFlight), Limits.MAX_AUTH_FRAME);
            List<Body> out = new ArrayList<>();
            while (r.next()) {
                out.add(r.body());
            }
            return out;
        }

        void send(int seq, Body b) throws IOException {
            edgeOut.write(Frames.encode(seq, b));
            edgeOut.flush();
        }

        void sendRaw(byte[] b) throws IOException {
            edgeOut.write(b);
            edgeOut.flush();
        }

        /** The next frame the client wrote after its first flight. */
        Body read() throws IOException {
            assertTrue(fromClient.next(), "the client closed");
            return fromClient.body();
        }

        int lastSeq() {
            return fromClient.seq();
        }

        @Override
        public InputStream in() {
            return clientIn;
        }

        @Override
        public OutputStream out() {
            return clientOut;
        }

        @Override
        public String kind() {
            return "tcp";
        }

        @Override
        public void close() {
            closed = true;
            try {
                edgeOut.close();
                clientOut.close();
                clientIn.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
    }

    /** Hands each dial to the test as a FakeConn. */
    static final class FakeDialer implements Dialer {
        final BlockingQueue<FakeConn> dials = new LinkedBlockingQueue<>();

        @Override
        public Transport dial(Endpoint endpoint, byte[] firstFlight, DialOptions options) throws IOException {
            FakeConn c = new FakeConn(firstFlight, options.datagrams());
            dials.add(c);
            return c;
        }

        FakeConn next() throws InterruptedException {
            return Recorder.next(dials, Duration.ofSeconds(10), "dial");
        }
    }

    private static QuicpushClient.Builder builder(Recorder rec, FakeDialer d) {
        return rec.attach(QuicpushClient.builder("tcp://edge.test:1")
                .token("t")
                .backoff(Duration.ofMillis(1), Duration.ofMillis(5))
                .dialers(d, d));
    }

    private static AuthOk authOk(long pingMs) {
        return new AuthOk("k1", "alice", pingMs, Limits.MAX_FRAME, 0, 0, "");
    }

    /** The AuthOK of an edge of revision 5. */
    private static AuthOk authOk5() {
        return new AuthOk("k1", "alice", 60_000, Limits.MAX_FRAME, 0, 0, "", 5);
    }

    /** Connects c through d: the scripted edge answers its Auth with {@code ok}. Returns that edge. */
    static FakeConn connect(QuicpushClient c, FakeDialer d, AuthOk ok) throws Exception {
        var connected = c.connect();
        FakeConn e = d.next();
        e.send(1, ok);
        connected.get(5, TimeUnit.SECONDS);
        return e;
    }

    /** Joins {@code ok.room()} on e's connection; the edge answers with {@code ok}. Returns the Join it read. */
    static Join join(QuicpushClient c, FakeConn e, JoinOk ok) throws Exception {
        var joined = c.join(ok.room());
        Join j = assertInstanceOf(Join.class, e.read());
        e.send(e.lastSeq(), ok);
        joined.get(5, TimeUnit.SECONDS);
        return j;
    }

    private static Push push(String room, long offset, String epoch, String text) {
        return new Push(Push.KIND_ROOM, room, "id" + offset, offset, epoch, text.getBytes(StandardCharsets.UTF_8), 0);
    }

    @Test
    void dropsRepeatsByPositionAndFollowsANewEpoch() throws Exception {
        Recorder rec = new Recorder();
        FakeDialer d = new FakeDialer();
        try (QuicpushClient c = builder(rec, d).build()) {
            FakeConn e = connect(c, d, authOk(60_000));
            Join j = join(c, e, new JoinOk("r", 0, 10, "e1"));
            e.send(0, push("r", 10, "e1", "at the join position: a repeat"));
            e.send(0, push("r", 11, "e1", "a"));
            e.send(0, push("r", 11, "e1", "a again"));
            e.send(0, push("r", 5, "e1", "older"));
            e.send(0, push("r", 12, "e1", "b"));
            e.send(0, push("r", 3, "e2", "new epoch"));
            e.send(0, push("r", 4, "e2", "c"));
            assertEquals(List.of("a", "b", "new epoch", "c"), rec.texts(4));
            rec.noMoreMessages();
            assertEquals(3, c.duplicatesDropped());
            assertEquals("r", j.room());
        }
    }

    @Test
    void reconnectSendsPositionsInTheFirstFlight() throws Exception {
        Recorder rec = new Recorder();
        FakeDialer d = new FakeDialer();
        try (QuicpushClient c = builder(rec, d).build()) {
            c.join("r"); // remembered before connect
            var connected = c.connect();
            FakeConn e = d.next();
            List<Body> flight = e.flight();
            assertEquals(new Auth(1, "t", 0, "", 1), flight.get(0), "Auth announces the Join behind it");
            assertEquals(new Join("r", 0, ""), flight.get(1));
            e.send(1, new AuthOk("k1", "alice", 60_000, Limits.MAX_FRAME, 0, 7, "u1"));
            e.send(2, new JoinOk("r", 0, 20, "e1"));
            connected.get(5, TimeUnit.SECONDS);
            assertFalse(rec.connect().reconnect());
            e.send(0, push("r", 21, "e1", "a"));
            e.send(0, new Push(Push.KIND_DIRECT, "", "d", 9, "u1", new byte[0], 0));
            rec.texts(2);
            e.close(); // the network fails
            assertEquals(0, rec.disconnect().code());

            FakeConn e2 = d.next();
            List<Body> again = e2.flight();
            assertEquals(new Auth(1, "t", 9, "u1", 1), again.get(0), "the user stream resumes from its last push");
            assertEquals(new Join("r", 21, "e1"), again.get(1), "the room resumes from its last push");
            e2.send(1, new AuthOk("k2", "alice", 60_000, Limits.MAX_FRAME, 1, 9, "u1"));
            e2.send(2, new JoinOk("r", 1, 22, "e1"));
            RecoveryEvent user = rec.recovery();
            assertEquals(null, user.room());
            assertTrue(user.recovered());
            RecoveryEvent room = rec.recovery();
            assertEquals("r", room.room());
            assertTrue(room.recovered());
            e2.send(0, push("r", 22, "e1", "replayed"));
            assertEquals("replayed", rec.message().text());
            assertTrue(rec.connect().reconnect());
        }
    }

    @Test
    void kickedStopsTheClient() throws Exception {
        Recorder rec = new Recorder();
        FakeDialer d = new FakeDialer();
        try (QuicpushClient c = builder(rec, d).build()) {
            FakeConn e = connect(c, d, authOk(60_000));
            e.send(0, new Disconnect(Codes.KICKED, "go away"));
            DisconnectEvent ev = rec.disconnect();
            assertEquals(Codes.KICKED, ev.code());
            assertFalse(ev.reconnect());
            assertTrue(ev.refused());
            assertTrue(d.dials.poll(300, TimeUnit.MILLISECONDS) == null, "a kicked client reconnected");
            // connect may be called again.
            connect(c, d, authOk(60_000));
        }
    }

    @Test
    void skipsUnknownOpsAndServesPings() throws Exception {
        Recorder rec = new Recorder();
        FakeDialer d = new FakeDialer();
        try (QuicpushClient c = builder(rec, d).build()) {
            var connected = c.connect();
            FakeConn e = d.next();
            // An op of a later revision before AuthOK is skipped too.
            e.sendRaw(new byte[] {0, 0, 0, 7, 0x20, 0, 0, 0, 0, 1, 2});
            e.send(1, authOk(60_000));
            connected.get(5, TimeUnit.SECONDS);
            join(c, e, new JoinOk("r", 0, 0, ""));
            e.sendRaw(new byte[] {0, 0, 0, 6, 0x21, 0, 0, 0, 0, 9});
            e.send(77, new Ping());
            assertInstanceOf(io.github.quicpush.client.wire.Pong.class, e.read());
            assertEquals(77, e.lastSeq());
            e.send(0, push("r", 0, "", "after the unknown op"));
            assertEquals("after the unknown op", rec.message().text());
            rec.noDisconnect();
        }
    }

    @Test
    void refusedJoinFailsAndInternalErrorIsRetried() throws Exception {
        Recorder rec = new Recorder();
        FakeDialer d = new FakeDialer();
        try (QuicpushClient c = builder(rec, d).build()) {
            FakeConn e = connect(c, d, authOk(60_000));

            var forbidden = c.join("secret");
            e.read();
            e.send(e.lastSeq(), new RequestError(Codes.FORBIDDEN, "no"));
            ExecutionException x = assertThrows(ExecutionException.class, () -> forbidden.get(5, TimeUnit.SECONDS));
            assertEquals(Codes.FORBIDDEN, ((QuicpushException) x.getCause()).code());

            var busy = c.join("busy");
            e.read();
            e.send(e.lastSeq(), new RequestError(Codes.INTERNAL_ERROR, "store down"));
            Join retry = assertInstanceOf(Join.class, e.read());
            assertEquals("busy", retry.room());
            e.send(e.lastSeq(), new JoinOk("busy", 0, 0, ""));
            busy.get(5, TimeUnit.SECONDS);

            // The refused room is forgotten: a push for it is dropped.
            e.send(0, push("secret", 0, "", "x"));
            e.send(0, push("busy", 0, "", "y"));
            assertEquals("y", rec.message().text());
        }
    }

    @Test
    void badDatagramsAreCountedNotFatal() throws Exception {
        Recorder rec = new Recorder();
        FakeDialer d = new FakeDialer();
        try (QuicpushClient c = builder(rec, d).build()) {
            FakeConn e = connect(c, d, authOk(60_000));
            join(c, e, new JoinOk("r", 0, 0, ""));
            e.datagrams.accept(new byte[] {1, 2, 3});
            e.datagrams.accept(Frames.encode(0, push("r", 0, "", "not ephemeral")));
            e.datagrams.accept(Frames.encode(0, new Ping()));
            Push eph = new Push(Push.KIND_ROOM, "r", "i", 0, "", "pos".getBytes(StandardCharsets.UTF_8),
                    Push.FLAG_EPHEMERAL);
            e.datagrams.accept(Frames.encode(0, eph));
            Message m = rec.message();
            assertEquals("pos", m.text());
            assertTrue(m.ephemeral());
            assertEquals(3, c.badDatagrams());
            rec.noDisconnect();
        }
    }

    @Test
    void callbacksRunOnTheGivenExecutorInOrder() throws Exception {
        Recorder rec = new Recorder();
        FakeDialer d = new FakeDialer();
        java.util.concurrent.ExecutorService main = java.util.concurrent.Executors.newSingleThreadExecutor(
                r -> new Thread(r, "app-main"));
        List<String> threads = java.util.Collections.synchronizedList(new ArrayList<>());
        try (QuicpushClient c = builder(rec, d)
                .callbackExecutor(main)
                .onMessage(m -> {
                    threads.add(Thread.currentThread().getName());
                    rec.messages.add(m);
                })
                .build()) {
            // Attached before the edge answers: a dependent attached to a completed future runs on the caller.
            var connected = c.connect().thenRun(() -> threads.add(Thread.currentThread().getName()));
            FakeConn e = d.next();
            e.send(1, authOk(60_000));
            connected.get(5, TimeUnit.SECONDS);
            join(c, e, new JoinOk("r", 0, 0, ""));
            for (int i = 1; i <= 50; i++) {
                e.send(0, push("r", i, "e", "m" + i));
            }
            for (int i = 1; i <= 50; i++) {
                assertEquals("m" + i, rec.message().text());
            }
            assertEquals(51, threads.size());
            assertTrue(threads.stream().allMatch("app-main"::equals), threads.toString());
        } finally {
            main.shutdownNow();
        }
    }

    @Test
    void unansweredPingReconnects() throws Exception {
        Recorder rec = new Recorder();
        FakeDialer d = new FakeDialer();
        try (QuicpushClient c = builder(rec, d).build()) {
            FakeConn e = connect(c, d, authOk(100));
            assertInstanceOf(Ping.class, e.read()); // and no Pong from this edge
            DisconnectEvent ev = rec.disconnect();
            assertEquals(0, ev.code());
            assertTrue(ev.reconnect());
            assertTrue(e.closed);
            d.next().send(1, authOk(60_000));
            rec.connect();
            assertTrue(rec.connect().reconnect());
        }
    }

    @Test
    void serverSideRoomIsKeptRejoinedAndDropped() throws Exception {
        Recorder rec = new Recorder();
        FakeDialer d = new FakeDialer();
        try (QuicpushClient c = builder(rec, d).build()) {
            FakeConn e = connect(c, d, authOk5());
            assertEquals(5, c.edgeRevision());
            e.send(0, new Subscribed("team", 0, 10, "e1"));
            assertEquals("team", rec.subscribed());
            e.send(0, push("team", 10, "e1", "at the subscription's position: a repeat"));
            e.send(0, push("team", 11, "e1", "a"));
            assertEquals("a", rec.message().text());
            e.close(); // the network fails

            FakeConn e2 = d.next();
            List<Body> flight = e2.flight();
            assertEquals(new Auth(1, "t", 0, "", 1), flight.get(0), "Auth announces the rejoin");
            assertEquals(new Join("team", 11, "e1"), flight.get(1), "the server-side room resumes from its position");
            assertEquals(2, flight.size());
            e2.send(1, authOk5());
            e2.send(2, new JoinOk("team", 1, 12, "e1"));
            RecoveryEvent ev = rec.recovery("team");
            assertTrue(ev.recovered());
            e2.send(0, push("team", 12, "e1", "replayed"));
            assertEquals("replayed", rec.message().text());

            // Already in: no position, nothing changes but what the client knows of the room.
            e2.send(0, new Subscribed("team", 0, 0, ""));
            assertEquals("team", rec.subscribed());
            e2.send(0, push("team", 12, "e1", "still a repeat"));
            e2.send(0, new Unsubscribed("team"));
            assertEquals("team", rec.unsubscribed());
            e2.send(0, push("team", 13, "e1", "after the unsubscription"));
            rec.noMoreMessages();
            assertEquals(2, c.duplicatesDropped());

            e2.close();
            FakeConn e3 = d.next();
            assertEquals(List.of(new Auth(1, "t", 0, "", 0)), e3.flight(), "a dropped room is not rejoined");
            assertTrue(rec.disconnect().reconnect());
            assertTrue(rec.disconnect().reconnect());
            rec.noDisconnect();
        }
    }

    @Test
    void refusedRejoinOfServerSideRoomIsAnUnsubscription() throws Exception {
        Recorder rec = new Recorder();
        FakeDialer d = new FakeDialer();
        try (QuicpushClient c = builder(rec, d).build()) {
            FakeConn e = connect(c, d, authOk5());
            e.send(0, new Subscribed("team", 0, 0, ""));
            assertEquals("team", rec.subscribed());
            join(c, e, new JoinOk("mine", 0, 0, ""));
            e.close();

            FakeConn e2 = d.next();
            List<Body> flight = e2.flight();
            assertEquals(new Auth(1, "t", 0, "", 2), flight.get(0));
            assertEquals(List.of(new Join("team", 0, ""), new Join("mine", 0, "")), flight.subList(1, 3));
            e2.send(1, authOk5());
            e2.send(2, new RequestError(Codes.FORBIDDEN, "not the user's room any more"));
            e2.send(3, new JoinOk("mine", 0, 0, ""));
            assertEquals("team", rec.unsubscribed());
            e2.send(0, push("team", 0, "", "dropped"));
            e2.send(0, push("mine", 0, "", "kept"));
            assertEquals("kept", rec.message().text());
            rec.noMoreMessages();
            assertFalse(rec.connect().reconnect());
            assertTrue(rec.connect().reconnect());
            assertTrue(rec.disconnect().reconnect()); // the network failure above, and no other

            // The application can still leave the other room; the dropped one is not known any more.
            var leaveTeam = c.leave("team");
            ExecutionException x = assertThrows(ExecutionException.class, () -> leaveTeam.get(5, TimeUnit.SECONDS));
            assertEquals(Codes.NOT_JOINED, ((QuicpushException) x.getCause()).code());
            var leaveMine = c.leave("mine");
            assertEquals(new Leave("mine"), e2.read());
            e2.send(e2.lastSeq(), new io.github.quicpush.client.wire.LeaveOk("mine"));
            leaveMine.get(5, TimeUnit.SECONDS);
            rec.noDisconnect();
        }
    }

    @Test
    void joinLeaveNoticesReachTheListener() throws Exception {
        Recorder rec = new Recorder();
        FakeDialer d = new FakeDialer();
        try (QuicpushClient c = builder(rec, d).build()) {
            FakeConn e = connect(c, d, authOk5());
            join(c, e, new JoinOk("chat", 0, 0, ""));
            var ann = new io.github.quicpush.client.wire.Member("u1", "e1-a",
                    "{\"name\":\"Ann\"}".getBytes(StandardCharsets.UTF_8));
            var bob = new io.github.quicpush.client.wire.Member("u2", "e2-b", new byte[0]);
            e.send(0, new JoinLeave("elsewhere", List.of(ann), List.of(), 0)); // not a room of the client's
            e.send(0, new JoinLeave("chat", List.of(ann), List.of(bob), 3));
            JoinLeaveEvent ev = rec.joinLeave();
            assertEquals("chat", ev.room());
            assertEquals(List.of(new Member("u1", "e1-a", "{\"name\":\"Ann\"}")), ev.joined());
            assertEquals(List.of(new Member("u2", "e2-b", "")), ev.left());
            assertEquals(3, ev.omitted());
            assertTrue(rec.joinLeaves.isEmpty());
            rec.noDisconnect();
        }
    }

    @Test
    void presenceAsksTheEdgeAndReportsItsErrors() throws Exception {
        Recorder rec = new Recorder();
        FakeDialer d = new FakeDialer();
        try (QuicpushClient c = builder(rec, d).build()) {
            FakeConn e = connect(c, d, authOk5());
            join(c, e, new JoinOk("chat", 0, 0, ""));

            var got = c.presence("chat");
            assertEquals(new PresenceGet("chat"), e.read());
            var ann = new io.github.quicpush.client.wire.Member("u1", "e1-a",
                    "{\"name\":\"Ann\"}".getBytes(StandardCharsets.UTF_8));
            e.send(e.lastSeq(), new PresenceOk("chat", 3, 2, false, List.of(ann)));
            Presence p = got.get(5, TimeUnit.SECONDS);
            assertEquals(new Presence("chat", 3, 2, false, List.of(new Member("u1", "e1-a", "{\"name\":\"Ann\"}"))),
                    p);

            var refused = c.presence("chat");
            e.read();
            e.send(e.lastSeq(), new RequestError(Codes.FORBIDDEN, "presence is off"));
            ExecutionException x = assertThrows(ExecutionException.class, () -> refused.get(5, TimeUnit.SECONDS));
            assertEquals(Codes.FORBIDDEN, ((QuicpushException) x.getCause()).code());

            // A connection lost with the request outstanding fails it.
            var lost = c.presence("chat");
            e.read();
            e.close();
            x = assertThrows(ExecutionException.class, () -> lost.get(5, TimeUnit.SECONDS));
            assertInstanceOf(QuicpushException.class, x.getCause());
        }
    }

    @Test
    void presenceIsRefusedLocallyByAnOlderEdge() throws Exception {
        Recorder rec = new Recorder();
        FakeDialer d = new FakeDialer();
        try (QuicpushClient c = builder(rec, d).build()) {
            var offline = c.presence("chat");
            ExecutionException x = assertThrows(ExecutionException.class, () -> offline.get(5, TimeUnit.SECONDS));
            assertEquals(0, ((QuicpushException) x.getCause()).code());

            FakeConn e = connect(c, d, authOk(60_000)); // an edge of revision 4: no revision in AuthOK
            assertEquals(0, c.edgeRevision());
            var old = c.presence("chat");
            x = assertThrows(ExecutionException.class, () -> old.get(5, TimeUnit.SECONDS));
            QuicpushException q = assertInstanceOf(QuicpushException.class, x.getCause());
            assertEquals(0, q.code());
            assertInstanceOf(UnsupportedOperationException.class, q.getCause());
            // Nothing was sent: the next frame the edge reads is the Join that follows.
            Join j = join(c, e, new JoinOk("chat", 0, 0, ""));
            assertEquals("chat", j.room());
            rec.noDisconnect();
        }
    }
}
