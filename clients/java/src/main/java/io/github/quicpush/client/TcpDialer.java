package io.github.quicpush.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.jspecify.annotations.Nullable;

/**
 * Dials framed TCP ({@code tcp://}) and framed TCP inside TLS ({@code tls://}), docs/protocol.md section 2.3. The
 * dial timeout covers the TCP connect and the TLS handshake together, so a middlebox that accepts the connection
 * and then says nothing cannot hold the client longer than a silent QUIC path would.
 */
final class TcpDialer implements Dialer {

    @Override
    public Transport dial(Endpoint endpoint, byte[] firstFlight, DialOptions options) throws IOException {
        if (!endpoint.scheme().equals("tcp") && !endpoint.scheme().equals("tls")) {
            throw new IllegalArgumentException("TcpDialer dials tcp:// and tls://, not " + endpoint);
        }
        long deadline = System.nanoTime() + options.dialTimeout().toNanos();
        Socket raw = new Socket();
        Socket sock = raw;
        try {
            // Frames are small and the edge batches its own writes: Nagle would only delay Pings and Joins.
            raw.setTcpNoDelay(true);
            raw.setKeepAlive(true);
            InetAddress addr = InetAddress.getByName(endpoint.host());
            raw.connect(new InetSocketAddress(addr, endpoint.port()), timeoutMillis(deadline, endpoint));
            if (endpoint.scheme().equals("tls")) {
                sock = startTls(raw, endpoint, options, deadline);
            }
            OutputStream out = sock.getOutputStream();
            // The first flight is written under the same deadline: a peer whose window is shut should not hang us.
            sock.setSoTimeout(timeoutMillis(deadline, endpoint));
            out.write(firstFlight);
            out.flush();
            sock.setSoTimeout(0);
            return new TcpTransport(sock, endpoint.scheme());
        } catch (SocketTimeoutException e) {
            closeQuietly(sock);
            closeQuietly(raw);
            SocketTimeoutException t = new SocketTimeoutException(
                    "dial " + endpoint + ": no connection within " + options.dialTimeout().toMillis() + " ms");
            t.initCause(e);
            throw t;
        } catch (IOException | RuntimeException e) {
            closeQuietly(sock);
            closeQuietly(raw);
            if (e instanceof IOException io && io.getMessage() != null && io.getMessage().startsWith("dial ")) {
                throw io;
            }
            throw new IOException("dial " + endpoint + ": " + e, e);
        }
    }

    private static Socket startTls(Socket raw, Endpoint endpoint, DialOptions options, long deadline)
            throws IOException {
        SSLContext ctx;
        boolean pinned = !options.certHashes().isEmpty();
        try {
            ctx = SSLContext.getInstance("TLS");
            @Nullable X509TrustManager tm = pinned ? new CertPins(options.certHashes()) : options.trustManager();
            ctx.init(null, tm == null ? null : new TrustManager[] {tm}, null);
        } catch (GeneralSecurityException e) {
            throw new IOException("dial " + endpoint + ": TLS setup: " + e.getMessage(), e);
        }
        // Passing the host name (not an IP literal) makes JSSE send it as SNI; for an IP it sends none, which the
        // edge accepts (section 2.5).
        SSLSocket tls = (SSLSocket) ctx.getSocketFactory().createSocket(raw, endpoint.host(), endpoint.port(), true);
        SSLParameters params = tls.getSSLParameters();
        params.setProtocols(supported(tls.getSupportedProtocols(), "TLSv1.3", "TLSv1.2"));
        if (!pinned) {
            // With a pin the digest replaces the chain and the name; without one the name must match.
            params.setEndpointIdentificationAlgorithm("HTTPS");
        }
        tls.setSSLParameters(params);
        tls.setSoTimeout(timeoutMillis(deadline, endpoint));
        try {
            tls.startHandshake();
        } catch (SocketTimeoutException e) {
            throw e;
        } catch (IOException e) {
            throw new IOException("dial " + endpoint + ": TLS handshake failed: " + rootMessage(e), e);
        }
        return tls;
    }

    private static String[] supported(String[] available, String... wanted) {
        List<String> out = new ArrayList<>();
        List<String> have = Arrays.asList(available);
        for (String w : wanted) {
            if (have.contains(w)) {
                out.add(w);
            }
        }
        return out.toArray(new String[0]);
    }

    /** Milliseconds left until {@code deadline} for a socket timeout, at least 1 (0 would mean forever). */
    private static int timeoutMillis(long deadline, Endpoint endpoint) throws SocketTimeoutException {
        long left = Duration.ofNanos(deadline - System.nanoTime()).toMillis();
        if (left <= 0) {
            throw new SocketTimeoutException("dial " + endpoint + ": dial timeout");
        }
        return (int) Math.min(Integer.MAX_VALUE, left);
    }

    static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String top = String.valueOf(e.getMessage());
        String root = String.valueOf(t.getMessage());
        return t == e || top.contains(root) ? top : top + " (" + root + ")";
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // Nothing more to release.
        }
    }

    /** A TCP or TLS socket as a {@link Transport}. */
    static final class TcpTransport implements Transport {
        private final Socket sock;
        private final String kind;
        private final InputStream in;
        private final OutputStream out;

        TcpTransport(Socket sock, String kind) throws IOException {
            this.sock = sock;
            this.kind = kind;
            this.in = sock.getInputStream();
            this.out = sock.getOutputStream();
        }

        @Override
        public InputStream in() {
            return in;
        }

        @Override
        public OutputStream out() {
            return out;
        }

        @Override
        public String kind() {
            return kind;
        }

        @Override
        public void close() {
            closeQuietly(sock);
        }
    }
}
