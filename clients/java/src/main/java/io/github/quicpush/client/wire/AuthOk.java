package io.github.quicpush.client.wire;

import java.util.Objects;

/**
 * The answer to Auth. {@code maxFrame} is the largest frame the edge accepts from the client. {@code recovery},
 * {@code offset} and {@code epoch} (revision 2) answer Auth's position for the user's stream; all zero when the
 * group was absent. {@code revision} (revision 5) is the protocol revision the edge speaks, 0 from earlier edges:
 * a client sends ops of a revision only to an edge that announced it.
 */
public record AuthOk(String connKey, String user, long pingIntervalMs, long maxFrame, int recovery, long offset,
        String epoch, long revision) implements Body {
    public AuthOk {
        Objects.requireNonNull(connKey, "connKey");
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(epoch, "epoch");
    }

    /** An AuthOk of an edge that announces no revision (before revision 5). */
    public AuthOk(String connKey, String user, long pingIntervalMs, long maxFrame, int recovery, long offset,
            String epoch) {
        this(connKey, user, pingIntervalMs, maxFrame, recovery, offset, epoch, 0);
    }

    @Override
    public int op() {
        return Op.AUTH_OK;
    }
}
