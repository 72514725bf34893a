package io.github.quicpush.client;

import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * Keeps the QUIC session tickets edges send, by endpoint, so that the next connection to the same edge can resume
 * the TLS session and send Auth and its Joins as 0-RTT data (docs/protocol.md section 2.1). The default keeps them
 * in memory for the life of the client; an app that wants 0-RTT on its first connection after a restart stores
 * them (SharedPreferences, a file) with its own implementation. A ticket is a secret of the session: store it
 * where the app keeps its tokens.
 */
public interface SessionTicketStore {

    /** The last ticket saved for {@code endpoint}, or null. */
    byte @Nullable [] load(String endpoint);

    /** Saves the newest ticket for {@code endpoint}, replacing any earlier one. */
    void save(String endpoint, byte[] ticket);

    /** A store in memory, the client's default. */
    static SessionTicketStore inMemory() {
        ConcurrentHashMap<String, byte[]> m = new ConcurrentHashMap<>();
        return new SessionTicketStore() {
            @Override
            public byte @Nullable [] load(String endpoint) {
                return m.get(endpoint);
            }

            @Override
            public void save(String endpoint, byte[] ticket) {
                m.put(endpoint, ticket.clone());
            }
        };
    }
}
