package io.github.quicpush.client.wire;

/** What became of a request to resume a stream: the {@code recovery} of AuthOK and JoinOK (section 11). */
public final class Recovery {
    /** No position was sent, or the stream keeps no history: live pushes follow the reply's position. */
    public static final int NONE = 0;
    /** Every missed message follows the reply, in order, then live ones: no gap, no repeat. */
    public static final int RECOVERED = 1;
    /** The missed messages are gone; nothing is replayed and live pushes follow the reply's position. */
    public static final int NOT_RECOVERED = 2;

    private Recovery() {}

    /** "none", "recovered", "not recovered", or "recovery(N)". */
    public static String name(int recovery) {
        switch (recovery) {
            case NONE: return "none";
            case RECOVERED: return "recovered";
            case NOT_RECOVERED: return "not recovered";
            default: return "recovery(" + recovery + ")";
        }
    }
}
