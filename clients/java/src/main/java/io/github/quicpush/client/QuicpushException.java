package io.github.quicpush.client;

import io.github.quicpush.client.wire.Codes;

/**
 * An edge refused something: a connect (a disconnect code, 3000-3999) or a request (a request error code,
 * 100-199). {@link #code()} says which; docs/protocol.md section 8 lists them.
 */
public final class QuicpushException extends Exception {
    private static final long serialVersionUID = 1L;
    private final int code;

    public QuicpushException(int code, String message) {
        super(Codes.name(code) + " (" + code + ")" + (message.isEmpty() ? "" : ": " + message));
        this.code = code;
    }

    public QuicpushException(String message, Throwable cause) {
        super(message, cause);
        this.code = 0;
    }

    /** The code, or 0 when no edge gave one (the endpoints were unreachable, say). */
    public int code() {
        return code;
    }

    /** Whether retrying may succeed: false for disconnect codes 3500-3999, which need the application. */
    public boolean retryable() {
        return code == 0 || Codes.reconnect(code);
    }
}
