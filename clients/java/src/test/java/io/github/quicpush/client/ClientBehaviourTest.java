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
import io.github.quicpush.client.wire.JoinOk;
import io.github.quicpush.client.wire.Limits;
import io.github.quicpush.client.wire.Ping;
import io.github.quicpush.client.wire.Push;
import io.github.quicpush.client.wire.RequestError;
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
 * bad datagrams and the heartbeat. The end-to-end tests (ClientE2ETest) cover the same against a real edge where
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
            assertEquals(new Auth(1, "t", 0, ""), flight.get(0));
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
            assertEquals(new Auth(1, "t", 9, "u1"), again.get(0), "the user stream resumes from its last push");
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
}
