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
