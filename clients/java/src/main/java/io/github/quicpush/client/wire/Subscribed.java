package io.github.quicpush.client.wire;

import java.util.Objects;

/**
 * Revision 5: the application's backend put this connection in {@code room} (docs/protocol.md section 6.8). The
 * position group is JoinOK's for a Join without a position: where the room's stream stood when the edge entered
 * it ({@code recovery} 0); all zero when the group was absent (the room keeps no history, or the connection was in
 * it already).
 */
public record Subscribed(String room, int recovery, long offset, String epoch) implements Body {
    public Subscribed {
        Objects.requireNonNull(room, "room");
        Objects.requireNonNull(epoch, "epoch");
    }

    @Override
    public int op() {
        return Op.SUBSCRIBED;
    }
}
