package io.github.quicpush.client.wire;

/**
 * Disconnect codes (3000-3999, sent in Disconnect and as the transport close code) and request error codes
 * (100-105, sent in Error), docs/protocol.md section 8. The two ranges never overlap. Codes are u16 on the wire
 * and read unsigned.
 */
public final class Codes {
    // Disconnect codes after which a client reconnects with backoff (3000-3499).
    public static final int SHUTDOWN = 3000;
    public static final int SERVER_ERROR = 3001;
    public static final int HEARTBEAT_TIMEOUT = 3002;
    public static final int SLOW_CONSUMER = 3003;
    public static final int TOKEN_EXPIRED = 3004;
    public static final int HANDSHAKE_TIMEOUT = 3005;
    public static final int DISCONNECTED_BY_SERVER = 3006;
    public static final int CONNECTION_LIMIT = 3007;
    public static final int RATE_LIMITED = 3008;

    // Disconnect codes after which a client stops (3500-3999).
    public static final int INVALID_TOKEN = 3500;
    public static final int PROTOCOL_ERROR = 3501;
    public static final int FRAME_TOO_LARGE = 3502;
    public static final int UNSUPPORTED_VERSION = 3503;
    public static final int KICKED = 3504;

    // Request error codes; the connection stays open.
    public static final int BAD_REQUEST = 100;
    public static final int FORBIDDEN = 101;
    public static final int TOO_MANY_ROOMS = 102;
    public static final int NOT_JOINED = 103;
    public static final int INTERNAL_ERROR = 104;
    public static final int TOKEN_REJECTED = 105;

    /** The reconnect range, inclusive (section 8.1). */
    public static final int RECONNECT_MIN = 3000;
    public static final int RECONNECT_MAX = 3499;
    /** The stop range, inclusive: no automatic reconnect. */
    public static final int STOP_MIN = 3500;
    public static final int STOP_MAX = 3999;

    private Codes() {}

    /**
     * The code's name as docs/protocol-vectors.json spells it ("shutdown", "server_error", ..., "internal"), or
     * "code N" for a code this version does not define.
     */
    public static String name(int code) {
        switch (code) {
            case SHUTDOWN: return "shutdown";
            case SERVER_ERROR: return "server_error";
            case HEARTBEAT_TIMEOUT: return "heartbeat_timeout";
            case SLOW_CONSUMER: return "slow_consumer";
            case TOKEN_EXPIRED: return "token_expired";
            case HANDSHAKE_TIMEOUT: return "handshake_timeout";
            case DISCONNECTED_BY_SERVER: return "server_disconnect";
            case CONNECTION_LIMIT: return "connection_limit";
            case RATE_LIMITED: return "rate_limited";
            case INVALID_TOKEN: return "invalid_token";
            case PROTOCOL_ERROR: return "protocol_error";
            case FRAME_TOO_LARGE: return "frame_too_large";
            case UNSUPPORTED_VERSION: return "unsupported_version";
            case KICKED: return "kicked";
            case BAD_REQUEST: return "bad_request";
            case FORBIDDEN: return "forbidden";
            case TOO_MANY_ROOMS: return "too_many_rooms";
            case NOT_JOINED: return "not_joined";
            case INTERNAL_ERROR: return "internal";
            case TOKEN_REJECTED: return "token_rejected";
            default: return "code " + code;
        }
    }

    /**
     * Whether a client disconnected with {@code code} reconnects by itself. The rule goes by range so that codes
     * added later are handled: only 3500-3999 stop; anything else, a network failure without a code included, is
     * reconnected with backoff.
     */
    public static boolean reconnect(int code) {
        return code < STOP_MIN || code > STOP_MAX;
    }
}
