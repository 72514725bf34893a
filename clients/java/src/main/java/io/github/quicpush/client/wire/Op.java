package io.github.quicpush.client.wire;

/** Operation codes of protocol version 1 (docs/protocol.md section 5). Ops 0x00 and 0x14-0xFF are undefined. */
public final class Op {
    public static final int AUTH = 0x01;
    public static final int AUTH_OK = 0x02;
    public static final int PING = 0x03;
    public static final int PONG = 0x04;
    public static final int JOIN = 0x05;
    public static final int JOIN_OK = 0x06;
    public static final int LEAVE = 0x07;
    public static final int LEAVE_OK = 0x08;
    public static final int PUSH = 0x09;
    public static final int ERROR = 0x0A;
    public static final int DISCONNECT = 0x0B;
    /** Revision 3: the server tells the client its token expires soon. */
    public static final int TOKEN_EXPIRING = 0x0C;
    /** Revision 3: a fresh token for the live connection. */
    public static final int REFRESH = 0x0D;
    /** Revision 3: the answer to Refresh. */
    public static final int REFRESH_OK = 0x0E;
    /** Revision 5: the application's backend put the connection in a room. */
    public static final int SUBSCRIBED = 0x0F;
    /** Revision 5: the application's backend took the connection out of a room. */
    public static final int UNSUBSCRIBED = 0x10;
    /** Revision 5: who joined and left a room lately. */
    public static final int JOIN_LEAVE = 0x11;
    /** Revision 5: who is in a room; sent only to an edge that announced revision 5. */
    public static final int PRESENCE_GET = 0x12;
    /** Revision 5: the answer to PresenceGet. */
    public static final int PRESENCE_OK = 0x13;

    // Indexed by op; the names are those of the vectors' "ops" table.
    private static final String[] NAMES = {
        null, "auth", "auth_ok", "ping", "pong", "join", "join_ok", "leave", "leave_ok", "push", "error",
        "disconnect", "token_expiring", "refresh", "refresh_ok", "subscribed", "unsubscribed", "join_leave",
        "presence_get", "presence_ok",
    };

    private Op() {}

    /** Whether {@code op} is defined by version 1; a client skips a frame of any other op. */
    public static boolean known(int op) {
        return op >= AUTH && op <= PRESENCE_OK;
    }

    /** The op's name ("auth", "join_ok", ...), or "op(N)" for an undefined one. */
    public static String name(int op) {
        return known(op) ? NAMES[op] : "op(" + op + ")";
    }
}
