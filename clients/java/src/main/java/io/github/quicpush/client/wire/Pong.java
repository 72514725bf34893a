package io.github.quicpush.client.wire;

/** The answer to Ping, with its seq; no fields, and any body is ignored. */
public record Pong() implements Body {
    /** The one value there is; the decoder returns it instead of allocating. */
    public static final Pong INSTANCE = new Pong();

    @Override
    public int op() {
        return Op.PONG;
    }
}
