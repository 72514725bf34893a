package io.github.quicpush.client.wire;

import java.util.Objects;

/** Asks to leave a room. */
public record Leave(String room) implements Body {
    public Leave {
        Objects.requireNonNull(room, "room");
    }

    @Override
    public int op() {
        return Op.LEAVE;
    }
}
