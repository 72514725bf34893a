package io.github.quicpush.client.wire;

import java.util.Objects;

/**
 * The answer to Auth. {@code maxFrame} is the largest frame the edge accepts from the client. {@code recovery},
 * {@code offset} and {@code epoch} (revision 2) answer Auth's position for the user's stream; all zero when the
 * group was absent.
 */
public record AuthOk(String connKey, String user, long pingIntervalMs, long maxFrame, int recovery, long offset,
        String epoch) implements Body {
    public AuthOk {
        Objects.requireNonNull(connKey, "connKey");
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(epoch, "epoch");
    }

    @Override
    public int op() {
        return Op.AUTH_OK;
    }
}
