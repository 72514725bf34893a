package io.github.quicpush.client.wire;

import java.util.Objects;

/**
 * The last frame the server sends. {@code code} is a disconnect code of {@link Codes} (u16, read unsigned);
 * {@code reason} is detail for people, with no limit but the frame's. A client acts on the code only.
 */
public record Disconnect(int code, String reason) implements Body {
    public Disconnect {
        Objects.requireNonNull(reason, "reason");
    }

    @Override
    public int op() {
        return Op.DISCONNECT;
    }
}
