package io.github.quicpush.client.wire;

import java.util.Objects;

/** Asks to join a room, with the last position seen in it (0 and empty for none). Always carries all three fields. */
public record Join(String room, long offset, String epoch) implements Body {
    public Join {
        Objects.requireNonNull(room, "room");
        Objects.requireNonNull(epoch, "epoch");
    }

    /** A Join without a position. */
    public Join(String room) {
        this(room, 0, "");
    }

    @Override
    public int op() {
        return Op.JOIN;
    }
}
