package io.github.quicpush.client.wire;

/** Revision 3: the fresh token is in force and expires in {@code expiresInMs} milliseconds (0: no expiry). */
public record RefreshOk(long expiresInMs) implements Body {
    @Override
    public int op() {
        return Op.REFRESH_OK;
    }
}
