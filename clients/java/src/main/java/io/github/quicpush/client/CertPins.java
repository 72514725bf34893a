package io.github.quicpush.client;

import java.net.Socket;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.function.Supplier;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;
import org.jspecify.annotations.Nullable;

/**
 * Trusts an edge by the SHA-256 of its leaf certificate's DER encoding instead of by chain and name
 * (docs/protocol.md section 2.5): the development edge's self-signed certificate, or a deployment that pins during a
 * rotation. The leaf must match one of the pinned digests and be within its validity period now; nothing else of the
 * chain is looked at.
 *
 * <p>It extends {@link X509ExtendedTrustManager} so that JSSE uses it as it is: a plain {@code X509TrustManager}
 * gets wrapped with extra checks (host name, algorithm constraints) that a pin deliberately replaces.
 */
final class CertPins extends X509ExtendedTrustManager {

    private final List<byte[]> digests;
    private final Supplier<Date> now;
    private volatile @Nullable String lastRejection;

    CertPins(List<byte[]> digests) {
        this(digests, Date::new);
    }

    CertPins(List<byte[]> digests, Supplier<Date> now) {
        if (digests.isEmpty()) {
            throw new IllegalArgumentException("no certificate hash to pin");
        }
        List<byte[]> copy = new ArrayList<>(digests.size());
        for (byte[] d : digests) {
            if (d.length != 32) {
                throw new IllegalArgumentException("a certificate hash is a SHA-256 digest (32 bytes), got " + d.length);
            }
            copy.add(d.clone());
        }
        this.digests = List.copyOf(copy);
        this.now = now;
    }

    /** SHA-256 of {@code cert}'s DER encoding: the value an edge prints as its certificate hash. */
    static byte[] digestOf(X509Certificate cert) throws CertificateEncodingException {
        try {
            return MessageDigest.getInstance("SHA-256").digest(cert.getEncoded());
        } catch (NoSuchAlgorithmException e) {
            // Every Java and Android runtime must provide SHA-256.
            throw new IllegalStateException(e);
        }
    }

    /**
     * Why the last certificate was refused, or null. A QUIC stack reports a refused certificate only as a TLS alert
     * (bad_certificate); the dialer puts this text into its exception instead.
     */
    @Nullable String lastRejection() {
        return lastRejection;
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        try {
            check(chain);
        } catch (CertificateException e) {
            lastRejection = e.getMessage();
            throw e;
        }
    }

    private void check(X509Certificate @Nullable [] chain) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new CertificateException("the edge sent no certificate");
        }
        X509Certificate leaf = chain[0];
        byte[] got = digestOf(leaf);
        boolean pinned = false;
        for (byte[] d : digests) {
            // Both are public values: a constant-time compare buys nothing, but costs nothing either.
            pinned |= MessageDigest.isEqual(d, got);
        }
        if (!pinned) {
            throw new CertificateException("the edge's certificate (SHA-256 " + Base64.getEncoder().encodeToString(got)
                    + ") matches none of the " + digests.size() + " pinned hash(es)");
        }
        try {
            leaf.checkValidity(now.get());
        } catch (CertificateExpiredException | CertificateNotYetValidException e) {
            throw new CertificateException("the edge's pinned certificate is outside its validity period ("
                    + leaf.getNotBefore().toInstant() + " .. " + leaf.getNotAfter().toInstant() + ")", e);
        }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        checkServerTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        checkServerTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("a client does not check client certificates");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        checkClientTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        checkClientTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
    }
}
