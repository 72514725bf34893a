package io.github.quicpush.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Collects what a client reports, for tests to wait on. */
final class Recorder {
    final BlockingQueue<Message> messages = new LinkedBlockingQueue<>();
    final BlockingQueue<ConnectEvent> connects = new LinkedBlockingQueue<>();
    final BlockingQueue<DisconnectEvent> disconnects = new LinkedBlockingQueue<>();
    final BlockingQueue<RecoveryEvent> recoveries = new LinkedBlockingQueue<>();
    final BlockingQueue<String> subscribed = new LinkedBlockingQueue<>();
    final BlockingQueue<String> unsubscribed = new LinkedBlockingQueue<>();
    final BlockingQueue<JoinLeaveEvent> joinLeaves = new LinkedBlockingQueue<>();

    QuicpushClient.Builder attach(QuicpushClient.Builder b) {
        return b.onMessage(messages::add)
                .onConnect(connects::add)
                .onDisconnect(disconnects::add)
                .onRecovery(recoveries::add)
                .onSubscribed(subscribed::add)
                .onUnsubscribed(unsubscribed::add)
                .onJoinLeave(joinLeaves::add);
    }

    static <T> T next(BlockingQueue<T> q, Duration within, String what) throws InterruptedException {
        T v = q.poll(within.toMillis(), TimeUnit.MILLISECONDS);
        assertNotNull(v, "no " + what + " within " + within);
        return v;
    }

    Message message() throws InterruptedException {
        return next(messages, Duration.ofSeconds(10), "message");
    }

    ConnectEvent connect() throws InterruptedException {
        return next(connects, Duration.ofSeconds(15), "connect event");
    }

    DisconnectEvent disconnect() throws InterruptedException {
        return next(disconnects, Duration.ofSeconds(15), "disconnect event");
    }

    RecoveryEvent recovery() throws InterruptedException {
        return next(recoveries, Duration.ofSeconds(10), "recovery event");
    }

    String subscribed() throws InterruptedException {
        return next(subscribed, Duration.ofSeconds(10), "subscribed room");
    }

    String unsubscribed() throws InterruptedException {
        return next(unsubscribed, Duration.ofSeconds(10), "unsubscribed room");
    }

    JoinLeaveEvent joinLeave() throws InterruptedException {
        return next(joinLeaves, Duration.ofSeconds(10), "join and leave notice");
    }

    /** The next answer to a resume of {@code room}, skipping those of the user stream (which come first). */
    RecoveryEvent recovery(String room) throws InterruptedException {
        while (true) {
            RecoveryEvent ev = recovery();
            if (ev.room() == null) {
                continue;
            }
            assertEquals(room, ev.room());
            return ev;
        }
    }

    /** The next n message texts, in arrival order. */
    List<String> texts(int n) throws InterruptedException {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(message().text());
        }
        return out;
    }

    /** Nothing more arrives for a moment: no repeat and no stray message. */
    void noMoreMessages() throws InterruptedException {
        Message m = messages.poll(300, TimeUnit.MILLISECONDS);
        assertNull(m, () -> "unexpected message " + m.text());
    }

    void noDisconnect() {
        assertEquals(List.of(), new ArrayList<>(disconnects), "disconnects");
    }
}
