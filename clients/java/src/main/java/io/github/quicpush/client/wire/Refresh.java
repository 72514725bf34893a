package io.github.quicpush.client.wire;

import java.util.Objects;

/** Revision 3: a fresh token of the same user for the live connection, at most 8192 bytes. */
public record Refresh(String token) implements Body {
    public Refresh {
        Objects.requireNonNull(token, "token");
    }

    @Override
    public int op() {
        return Op.REFRESH;
    }
}
