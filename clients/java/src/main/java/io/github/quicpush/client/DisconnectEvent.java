package io.github.quicpush.client;

/**
 * The connection ended.
 *
 * @param code the disconnect code (docs/protocol.md section 8.1), or 0 for a network failure or a close by the
 *     client itself
 * @param reason human-readable detail; never act on its content
 * @param reconnect whether the client reconnects by itself; false after {@link QuicpushClient#close()} and for codes
 *     3500-3999 (an invalid token, a kick, a broken client), which the application must handle
 */
public record DisconnectEvent(int code, String reason, boolean reconnect) {}
