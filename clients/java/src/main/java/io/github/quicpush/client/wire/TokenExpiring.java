package io.github.quicpush.client.wire;

/** Revision 3: the connection's token expires in {@code expiresInMs} milliseconds (u64); answer with Refresh. */
public record TokenExpiring(long expiresInMs) implements Body {
    @Override
    public int op() {
        return Op.TOKEN_EXPIRING;
    }
}
