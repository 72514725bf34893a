package io.github.quicpush.client.wire;

import java.util.Objects;

/** The answer to Leave. */
public record LeaveOk(String room) implements Body {
    public LeaveOk {
        Objects.requireNonNull(room, "room");
    }

    @Override
    public int op() {
        return Op.LEAVE_OK;
    }
}
