package io.github.quicpush.client;

import io.github.quicpush.client.testing.ServerProcess;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * Connect time on loopback: dial plus Auth until AuthOK, for a full QUIC handshake, QUIC with 0-RTT, TCP and TLS,
 * against a real {@code quicpush serve}. Prints a Markdown table (median, p90, max in ms, and
 * how many took over a second: a Kwik handshake that stalled and was dialed again).
 *
 * <pre>
 * cd clients/java &amp;&amp; mvn -B -q test-compile exec:java -Dexec.classpathScope=test \
 *   -Dexec.mainClass=io.github.quicpush.client.ConnectTimeBench -Dquicpush.bin=../../bin/quicpush -Dn=50
 * </pre>
 */
public final class ConnectTimeBench {

    private ConnectTimeBench() {}

    public static void main(String[] args) throws Exception {
        int n = Integer.getInteger("n", 50);
        int warmup = Integer.getInteger("warmup", 15);
        // The default per-IP handshake rate limit (50/s) is for the internet, not for a benchmark on one address.
        try (ServerProcess s = ServerProcess.start("--handshakes-per-ip=-1")) {
            byte[] auth = DialerTestFrames.auth(1, s.token("bench", "r", Duration.ofHours(1)));
            List<byte[]> pins = List.of(s.certHash());
            SessionTicketStore tickets = SessionTicketStore.inMemory();
            DialOptions full = new DialOptions(Duration.ofSeconds(5), pins, null, SessionTicketStore.inMemory(),
                    false, null, Duration.ZERO);
            DialOptions zeroRtt = new DialOptions(Duration.ofSeconds(5), pins, null, tickets, true, null,
                    Duration.ZERO);
            Endpoint quic = new Endpoint("quic", "127.0.0.1", s.quicPort());
            Endpoint tcp = new Endpoint("tcp", "127.0.0.1", s.tcpPort());
            Endpoint tls = new Endpoint("tls", "127.0.0.1", s.tcpPort());
            System.out.println("| transport | n | median ms | p90 ms | max ms | over 1 s |");
            System.out.println("|---|---|---|---|---|---|");
            row("QUIC, full handshake", run(new QuicDialer(), quic, auth, full, n, warmup, false));
            row("QUIC, 0-RTT", run(new QuicDialer(), quic, auth, zeroRtt, n, warmup, true));
            row("TCP", run(new TcpDialer(), tcp, auth, full, n, warmup, false));
            row("TLS (TCP)", run(new TcpDialer(), tls, auth, full, n, warmup, false));
            System.out.println();
            System.out.println("0-RTT dials that completed without 0-RTT: " + notZeroRtt + " of " + n);
        }
    }

    /** 0-RTT dials that fell back to a full handshake (the dialer's second attempt goes without the ticket). */
    private static int notZeroRtt;

    private static List<Double> run(Dialer d, Endpoint ep, byte[] auth, DialOptions o, int n, int warmup,
            boolean wantZeroRtt) throws IOException {
        List<Double> ms = new ArrayList<>();
        for (int i = 0; i < warmup + n; i++) {
            long t0 = System.nanoTime();
            try (Transport t = d.dial(ep, auth, o)) {
                io.github.quicpush.client.wire.FrameReader r =
                        new io.github.quicpush.client.wire.FrameReader(t.in(), io.github.quicpush.client.wire.Limits.MAX_FRAME);
                if (!r.next()) {
                    throw new IOException(ep + ": closed before AuthOK");
                }
                long t1 = System.nanoTime();
                if (r.op() != DialerTestFrames.AUTH_OK) {
                    throw new IOException(ep + ": got op " + r.op() + " instead of AuthOK");
                }
                if (wantZeroRtt && i >= warmup && !t.usedZeroRtt()) {
                    notZeroRtt++;
                }
                if (i >= warmup) {
                    ms.add((t1 - t0) / 1e6);
                }
            }
        }
        return ms;
    }

    private static void row(String name, List<Double> ms) {
        long slow = ms.stream().filter(x -> x > 1000).count();
        List<Double> sorted = new ArrayList<>(ms);
        Collections.sort(sorted);
        double median = sorted.get(sorted.size() / 2);
        double p90 = sorted.get((int) Math.ceil(sorted.size() * 0.9) - 1);
        double max = sorted.get(sorted.size() - 1);
        System.out.println(String.format(Locale.ROOT, "| %s | %d | %.1f | %.1f | %.1f | %d |",
                name, sorted.size(), median, p90, max, slow));
    }
}
