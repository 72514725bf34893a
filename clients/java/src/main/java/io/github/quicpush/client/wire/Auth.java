package io.github.quicpush.client.wire;

import java.util.Objects;

/**
 * The first frame a client sends. {@code offset} and {@code epoch} (revision 2) are the last position seen in the
 * user's stream, 0 and empty for none; the group is left out on the wire when both are and no later field follows.
 * {@code joins} (revision 5) is how many Join frames follow Auth before anything else: the rooms the client rejoins,
 * server-side rooms included (docs/protocol.md section 6.1); 0 for none, and then left out.
 */
public record Auth(long version, String token, long offset, String epoch, long joins) implements Body {
    public Auth {
        Objects.requireNonNull(token, "token");
        Objects.requireNonNull(epoch, "epoch");
    }

    /** An Auth without a count of Joins (as before revision 5). */
    public Auth(long version, String token, long offset, String epoch) {
        this(version, token, offset, epoch, 0);
    }

    /** An Auth of this protocol version without a position. */
    public Auth(String token) {
        this(Limits.VERSION, token, 0, "", 0);
    }

    @Override
    public int op() {
        return Op.AUTH;
    }
}
