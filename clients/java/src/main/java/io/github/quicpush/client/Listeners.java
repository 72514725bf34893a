package io.github.quicpush.client;

/** The callbacks an application registers. Each runs on the client's callback executor. */
public final class Listeners {
    private Listeners() {}

    /** Receives pushed messages. */
    @FunctionalInterface
    public interface OnMessage {
        void onMessage(Message message);
    }

    /** Told of every successful connect and reconnect. */
    @FunctionalInterface
    public interface OnConnect {
        void onConnect(ConnectEvent event);
    }

    /** Told of every lost connection. */
    @FunctionalInterface
    public interface OnDisconnect {
        void onDisconnect(DisconnectEvent event);
    }

    /** Told of every answer to a resume. */
    @FunctionalInterface
    public interface OnRecovery {
        void onRecovery(RecoveryEvent event);
    }

    /**
     * Told that the application's backend put this connection in a room (revision 5, docs/protocol.md section 6.8).
     * The client treats the room as one it joined: its messages go to the client's message listener, and it is
     * rejoined from its last position after every reconnect.
     */
    @FunctionalInterface
    public interface OnSubscribed {
        void onSubscribed(String room);
    }

    /**
     * Told that the client is out of a room the application's backend had put it in: the backend took it out, or
     * (after a reconnect) the edge refused to rejoin it because the backend took the user out meanwhile.
     */
    @FunctionalInterface
    public interface OnUnsubscribed {
        void onUnsubscribed(String room);
    }

    /** Receives the join and leave notices of rooms whose namespace turns them on (revision 5). */
    @FunctionalInterface
    public interface OnJoinLeave {
        void onJoinLeave(JoinLeaveEvent event);
    }

    /** Receives the client's diagnostics; the default drops them. */
    @FunctionalInterface
    public interface Log {
        /**
         * @param level "debug", "info" or "warn"
         * @param message what happened
         * @param error the cause, or null
         */
        void log(String level, String message, @org.jspecify.annotations.Nullable Throwable error);
    }
}
