package io.github.quicpush.client;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;

/**
 * One way to reach an edge: {@code quic://host:port} (raw QUIC, ALPN {@code quicpush/1}), {@code tcp://host:port}
 * (framed TCP) or {@code tls://host:port} (framed TCP inside TLS). The port is required.
 *
 * @param scheme "quic", "tcp" or "tls"
 * @param host a host name or an IP literal (IPv6 without brackets)
 * @param port the UDP (quic) or TCP port
 */
public record Endpoint(String scheme, String host, int port) {

    /** Parses one endpoint URL; throws {@link IllegalArgumentException} with the reason when it is not one. */
    public static Endpoint parse(String url) {
        URI uri;
        try {
            uri = new URI(url.trim());
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("endpoint " + url + ": " + e.getMessage(), e);
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("quic") && !scheme.equals("tcp") && !scheme.equals("tls")) {
            throw new IllegalArgumentException(
                    "endpoint " + url + ": scheme must be quic, tcp or tls (WebSocket is not supported by this client)");
        }
        String host = uri.getHost();
        if (host == null || host.isEmpty() || uri.getPort() <= 0) {
            throw new IllegalArgumentException("endpoint " + url + ": want " + scheme + "://host:port");
        }
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        return new Endpoint(scheme, host, uri.getPort());
    }

    /** Whether the endpoint runs over UDP (QUIC). */
    public boolean isQuic() {
        return scheme.equals("quic");
    }

    @Override
    public String toString() {
        String h = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
        return scheme + "://" + h + ":" + port;
    }
}
