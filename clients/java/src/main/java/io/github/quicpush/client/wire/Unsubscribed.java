package io.github.quicpush.client.wire;

import java.util.Objects;

/** Revision 5: the application's backend took this connection out of {@code room} (docs/protocol.md section 6.8). */
public record Unsubscribed(String room) implements Body {
    public Unsubscribed {
        Objects.requireNonNull(room, "room");
    }

    @Override
    public int op() {
        return Op.UNSUBSCRIBED;
    }
}
