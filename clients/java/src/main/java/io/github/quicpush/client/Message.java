package io.github.quicpush.client;

import java.nio.charset.StandardCharsets;

/**
 * A message pushed by the edge.
 *
 * @param kind how it was addressed: {@link #DIRECT} (this connection or its user), {@link #ROOM} or
 *     {@link #BROADCAST}
 * @param room the room of a room message; empty otherwise
 * @param id the message id the push API returned, unique per message
 * @param offset the message's position in its stream, an unsigned 64-bit value ({@link Long#toUnsignedString});
 *     0 with an empty epoch when it has none
 * @param epoch the epoch of the position; empty when it has none
 * @param data the payload as the backend sent it; it belongs to the receiver
 * @param ephemeral superseded state (a position, a typing indicator) sent outside the reliable stream: it has no
 *     position, may have come in a QUIC datagram, may overtake reliable messages, and one lost is never replayed
 */
public record Message(int kind, String room, String id, long offset, String epoch, byte[] data, boolean ephemeral) {

    /** Addressed to this connection's key or to its user. */
    public static final int DIRECT = 0;
    /** Pushed to a room the client is in: one it joined, or one the application's backend put it in. */
    public static final int ROOM = 1;
    /** Broadcast to every connection. */
    public static final int BROADCAST = 2;

    /** The payload decoded as UTF-8 (push API {@code text} arrives this way). */
    public String text() {
        return new String(data, StandardCharsets.UTF_8);
    }
}
