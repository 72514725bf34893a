package io.github.quicpush.client;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * A room the client means to be in, or one the application's backend put it in (server-side): it is joined again,
 * from its last position, on every new connection until {@link QuicpushClient#leave}, an Unsubscribed, or until the
 * edge refuses it. Owned by the client's loop thread.
 */
final class Room {
    final String name;
    final Position position = new Position();
    Listeners.@Nullable OnMessage listener;
    /** The connection the edge confirmed the room on. */
    @Nullable Connection joinedOn;
    /** The connection a Join of the room awaits its answer on. */
    @Nullable Connection sentOn;
    /**
     * The backend put the connection in it (Subscribed): a refused rejoin means the backend took the user out, and
     * is reported as an unsubscription rather than an error.
     */
    boolean serverSide;
    /** Joins the edge failed to serve in a row (error 104). */
    int tries;
    /** join() calls waiting for the edge's answer. */
    final List<CompletableFuture<Void>> waiters = new ArrayList<>();

    Room(String name) {
        this.name = name;
    }
}
