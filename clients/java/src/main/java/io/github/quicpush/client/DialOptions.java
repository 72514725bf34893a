package io.github.quicpush.client;

import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import javax.net.ssl.X509TrustManager;
import org.jspecify.annotations.Nullable;

/**
 * What a {@link Dialer} needs from the client's settings.
 *
 * @param dialTimeout the longest a dial (transport and TLS handshakes) may take
 * @param certHashes SHA-256 digests of the edge's leaf certificate (DER) to pin, docs/protocol.md section 2.5; when
 *     not empty, chain and name checks are off and the leaf must match one of them and be within its validity
 * @param trustManager checks the edge's chain when no hash is pinned; null: the platform's default trust
 * @param tickets where QUIC session tickets are kept
 * @param zeroRtt whether a QUIC dial with a ticket sends the first flight as 0-RTT data
 * @param datagrams receives each QUIC datagram the edge sends (an ephemeral push frame); null: datagrams are not
 *     negotiated and the edge sends ephemeral pushes on the stream
 * @param quicKeepAlive how often an idle QUIC connection sends a keep-alive packet (so that a NAT rebinding is
 *     noticed); zero: none beyond the client's heartbeat
 */
record DialOptions(
        Duration dialTimeout,
        List<byte[]> certHashes,
        @Nullable X509TrustManager trustManager,
        SessionTicketStore tickets,
        boolean zeroRtt,
        @Nullable Consumer<byte[]> datagrams,
        Duration quicKeepAlive) {}
