package io.github.quicpush.client.wire;

import java.util.Objects;

/**
 * The first frame a client sends. {@code offset} and {@code epoch} (revision 2) are the last position seen in the
 * user's stream, 0 and empty for none; the group is left out on the wire when both are.
 */
public record Auth(long version, String token, long offset, String epoch) implements Body {
    public Auth {
        Objects.requireNonNull(token, "token");
        Objects.requireNonNull(epoch, "epoch");
    }

    /** An Auth of this protocol version without a position. */
    public Auth(String token) {
        this(Limits.VERSION, token, 0, "");
    }

    @Override
    public int op() {
        return Op.AUTH;
    }
}
