package io.github.quicpush.client.wire;

import java.util.Objects;

/**
 * Revision 5: asks who is in {@code room}, a room the connection is in (docs/protocol.md section 6.10). Sent only to
 * an edge whose AuthOK announced revision 5 or later: an earlier edge closes the connection for it.
 */
public record PresenceGet(String room) implements Body {
    public PresenceGet {
        Objects.requireNonNull(room, "room");
    }

    @Override
    public int op() {
        return Op.PRESENCE_GET;
    }
}
