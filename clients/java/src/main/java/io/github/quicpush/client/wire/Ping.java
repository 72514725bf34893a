package io.github.quicpush.client.wire;

/** A heartbeat; no fields, and any body is ignored. */
public record Ping() implements Body {
    /** The one value there is; the decoder returns it instead of allocating. */
    public static final Ping INSTANCE = new Ping();

    @Override
    public int op() {
        return Op.PING;
    }
}
