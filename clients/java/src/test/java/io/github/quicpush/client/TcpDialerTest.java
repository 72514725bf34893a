package io.github.quicpush.client;

import static io.github.quicpush.client.DialerTestFrames.AUTH_OK;
import static io.github.quicpush.client.DialerTestFrames.DISCONNECT;
import static io.github.quicpush.client.DialerTestFrames.JOIN_OK;
import static io.github.quicpush.client.DialerTestFrames.PUSH;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quicpush.client.DialerTestFrames.Reader;
import io.github.quicpush.client.testing.ServerProcess;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Date;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** TcpDialer (tcp:// and tls://) against a real {@code quicpush serve}. */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class TcpDialerTest {

    static final Duration WAIT = Duration.ofSeconds(5);
    static ServerProcess server;

    @BeforeAll
    static void startServer() throws IOException {
        server = ServerProcess.start();
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            server.close();
        }
    }

    static DialOptions pinned(List<byte[]> hashes, Duration timeout) {
        return new DialOptions(timeout, hashes, null, SessionTicketStore.inMemory(), true, null, Duration.ZERO);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tcp", "tls"})
    void dialSendsAuthJoinsAndReadsReplies(String scheme) throws Exception {
        Endpoint ep = new Endpoint(scheme, "127.0.0.1", server.tcpPort());
        byte[] flight = DialerTestFrames.concat(
                DialerTestFrames.auth(1, server.token("ivan", "t", Duration.ofMinutes(5))),
                DialerTestFrames.join(2, "t"));
        try (Transport t = new TcpDialer().dial(ep, flight, pinned(List.of(server.certHash()), WAIT))) {
            assertEquals(scheme, t.kind());
            assertFalse(t.usedZeroRtt());
            assertFalse(t.canMigrate());
            assertThrows(IOException.class, t::migrate);
            Reader r = new Reader(t);
            String key = r.await(AUTH_OK, WAIT).firstStr();
            assertEquals("t", r.await(JOIN_OK, WAIT).firstStr());
            server.call("PushRoom", "{\"room\":\"t\",\"text\":\"over " + scheme + "\"}");
            assertEquals("over " + scheme,
                    new String(DialerTestFrames.pushData(r.await(PUSH, WAIT)), StandardCharsets.UTF_8));
            server.call("Disconnect", "{\"keys\":[\"" + key + "\"]}");
            r.await(DISCONNECT, WAIT);
            assertTrue(t.closeCode().isEmpty(), "framed TCP carries no close code");
        }
    }

    @Test
    void tlsWithAWrongPinFails() throws Exception {
        Endpoint ep = new Endpoint("tls", "127.0.0.1", server.tcpPort());
        IOException e = assertThrows(IOException.class, () -> new TcpDialer()
                .dial(ep, DialerTestFrames.auth(1, "x"), pinned(List.of(new byte[32]), WAIT)).close());
        System.out.println("[tls] wrong pin: " + e.getMessage());
        assertTrue(e.getMessage().contains("matches none of the 1 pinned hash"), e.getMessage());
    }

    @Test
    void tlsWithPlatformTrustRefusesTheDevelopmentCertificate() throws Exception {
        Endpoint ep = new Endpoint("tls", "localhost", server.tcpPort());
        IOException e = assertThrows(IOException.class, () -> new TcpDialer()
                .dial(ep, DialerTestFrames.auth(1, "x"), pinned(List.of(), WAIT)).close());
        System.out.println("[tls] platform trust: " + e.getMessage());
        assertTrue(e.getMessage().contains("TLS handshake failed"), e.getMessage());
    }

    @Test
    void tlsDialTimeoutCoversASilentHandshake() throws Exception {
        // The kernel completes the TCP handshake from the backlog; nothing ever answers the ClientHello.
        try (ServerSocket silent = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Endpoint ep = new Endpoint("tls", "127.0.0.1", silent.getLocalPort());
            long start = System.nanoTime();
            IOException e = assertThrows(IOException.class, () -> new TcpDialer()
                    .dial(ep, DialerTestFrames.auth(1, "x"), pinned(List.of(server.certHash()),
                            Duration.ofMillis(800))).close());
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            System.out.println("[tls] silent peer: failed after " + ms + " ms: " + e.getMessage());
            assertTrue(ms >= 700 && ms < 800 + 700, "took " + ms + " ms");
        }
    }

    @Test
    void pinnedCertificateOutsideItsValidityIsRefused() throws Exception {
        X509Certificate[] chain = serverChain();
        byte[] hash = CertPins.digestOf(chain[0]);
        assertArrayEquals(server.certHash(), hash, "the banner's hash is SHA-256 of the leaf's DER");
        new CertPins(List.of(hash)).checkServerTrusted(chain, "ECDHE_ECDSA");
        Date later = Date.from(chain[0].getNotAfter().toInstant().plusSeconds(1));
        CertificateException e = assertThrows(CertificateException.class,
                () -> new CertPins(List.of(hash), () -> later).checkServerTrusted(chain, "ECDHE_ECDSA"));
        assertTrue(e.getMessage().contains("outside its validity period"), e.getMessage());
        Date before = Date.from(chain[0].getNotBefore().toInstant().minusSeconds(1));
        assertThrows(CertificateException.class,
                () -> new CertPins(List.of(hash), () -> before).checkServerTrusted(chain, "ECDHE_ECDSA"));
    }

    /** The edge's certificate chain, read by a TLS handshake that trusts anything and keeps what it saw. */
    static X509Certificate[] serverChain() throws Exception {
        AtomicReference<X509Certificate[]> seen = new AtomicReference<>();
        X509TrustManager keep = new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {}

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
                seen.set(chain);
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, new TrustManager[] {keep}, null);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", server.tcpPort())) {
            s.setSoTimeout(5000);
            s.startHandshake();
        }
        return seen.get();
    }

    @Test
    void refusedPortFailsAtOnce() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Endpoint ep = new Endpoint("tcp", "127.0.0.1", port);
        IOException e = assertThrows(IOException.class, () -> new TcpDialer()
                .dial(ep, DialerTestFrames.auth(1, "x"), pinned(List.of(), WAIT)).close());
        assertTrue(e.getMessage().startsWith("dial tcp://127.0.0.1:" + port), e.getMessage());
    }
}
