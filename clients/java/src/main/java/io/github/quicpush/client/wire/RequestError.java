package io.github.quicpush.client.wire;

import java.util.Objects;

/**
 * Op ERROR: a request failed and the connection stays open. {@code code} is a request error code of
 * {@link Codes} (u16, read unsigned); {@code message} is detail for people, with no limit but the frame's.
 */
public record RequestError(int code, String message) implements Body {
    public RequestError {
        Objects.requireNonNull(message, "message");
    }

    @Override
    public int op() {
        return Op.ERROR;
    }
}
