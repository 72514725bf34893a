package io.github.quicpush.client.wire;

import java.util.Objects;

/**
 * The answer to Join. {@code recovery}, {@code offset} and {@code epoch} (revision 2) answer Join's position; all
 * zero when the group was absent (the client's position then stays as it was).
 */
public record JoinOk(String room, int recovery, long offset, String epoch) implements Body {
    public JoinOk {
        Objects.requireNonNull(room, "room");
        Objects.requireNonNull(epoch, "epoch");
    }

    @Override
    public int op() {
        return Op.JOIN_OK;
    }
}
