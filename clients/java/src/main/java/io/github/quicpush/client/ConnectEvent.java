package io.github.quicpush.client;

/**
 * The client is connected and authenticated.
 *
 * @param endpoint the endpoint URL in use, as given to the builder
 * @param transport "quic", "tcp" or "tls"
 * @param connKey the edge's key of this connection (backends push to it and disconnect it by it)
 * @param user the user id the edge took from the token
 * @param reconnect false for the connection {@link QuicpushClient#connect()} made, true for later ones
 * @param zeroRtt whether Auth and the rejoins went as QUIC 0-RTT data, a round trip before the handshake ended
 */
public record ConnectEvent(
        String endpoint, String transport, String connKey, String user, boolean reconnect, boolean zeroRtt) {}
