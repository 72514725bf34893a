package io.github.quicpush.client.wire;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Revision 5: one connection in a room, an entry of a {@code members} list (JoinLeave, PresenceOK).
 * {@code info} is the JSON object the connection's token or the application's backend attached to it, as UTF-8
 * text of at most {@link Limits#MAX_INFO} bytes; empty for none. It is not copied by the accessor; equality
 * compares its contents.
 */
public record Member(String user, String connKey, byte[] info) {
    public Member {
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(connKey, "connKey");
        Objects.requireNonNull(info, "info");
    }

    /** {@code info} as text (a JSON object), empty for none. */
    public String infoText() {
        return new String(info, StandardCharsets.UTF_8);
    }

    @Override
    public boolean equals(@Nullable Object o) {
        return o instanceof Member m && user.equals(m.user) && connKey.equals(m.connKey)
                && Arrays.equals(info, m.info);
    }

    @Override
    public int hashCode() {
        return 31 * Objects.hash(user, connKey) + Arrays.hashCode(info);
    }

    @Override
    public String toString() {
        return "Member[user=" + user + ", connKey=" + connKey + ", info=" + infoText() + "]";
    }
}
