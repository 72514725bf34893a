package io.github.quicpush.client;

/**
 * The connection ended.
 *
 * @param code the disconnect code (docs/protocol.md section 8.1), or 0 for a network failure or a close by the
 *     client itself
 * @param reason human-readable detail; never act on its content
 * @param reconnect whether the client reconnects by itself; false after {@link QuicpushClient#close()} and for codes
 *     3500-3999 (an invalid token, a kick, a broken client), which the application must handle
 */
public record DisconnectEvent(int code, String reason, boolean reconnect) {

    /**
     * Whether the edge refused the session for good (codes 3500-3999): an invalid token (3500) means get a new one
     * and connect again; a kick (3504) means do not; the others mean the client or its version is broken. False for
     * a close or disconnect by the application itself (code 0) and for everything the client retries.
     */
    public boolean refused() {
        return code >= 3500 && code <= 3999;
    }
}
