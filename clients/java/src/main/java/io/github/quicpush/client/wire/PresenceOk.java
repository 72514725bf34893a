package io.github.quicpush.client.wire;

import java.util.List;
import java.util.Objects;

/**
 * Revision 5: the answer to PresenceGet (docs/protocol.md section 6.10). {@code conns} and {@code users} count the
 * room's connections and distinct users across the cluster; {@code complete} says {@code members} lists every
 * connection (false when the room has more than the edge lists or than one frame holds).
 */
public record PresenceOk(String room, long conns, long users, boolean complete, List<Member> members)
        implements Body {
    public PresenceOk {
        Objects.requireNonNull(room, "room");
        members = List.copyOf(members);
    }

    @Override
    public int op() {
        return Op.PRESENCE_OK;
    }
}
