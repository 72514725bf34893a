package io.github.quicpush.client.wire;

import java.util.List;
import java.util.Objects;

/**
 * Revision 5: the connections that joined and left {@code room} since the previous notice (docs/protocol.md
 * section 6.9). {@code omitted} counts the joins and leaves left out of the two lists.
 */
public record JoinLeave(String room, List<Member> joined, List<Member> left, long omitted) implements Body {
    public JoinLeave {
        Objects.requireNonNull(room, "room");
        joined = List.copyOf(joined);
        left = List.copyOf(left);
    }

    @Override
    public int op() {
        return Op.JOIN_LEAVE;
    }
}
