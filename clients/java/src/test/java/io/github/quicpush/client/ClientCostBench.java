package io.github.quicpush.client;

import io.github.quicpush.client.wire.AuthOk;
import io.github.quicpush.client.wire.Frames;
import io.github.quicpush.client.wire.JoinOk;
import io.github.quicpush.client.wire.Limits;
import io.github.quicpush.client.wire.Push;
import java.io.ByteArrayOutputStream;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * What one received push costs the whole client, not just the codec: reader thread, event loop and callback
 * thread together, from the bytes on the transport to the application's listener. The edge is scripted in memory
 * (ClientBehaviourTest's FakeDialer), so the figures hold no network.
 *
 * <pre>
 * mvn -B -q test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * java -cp target/classes:target/test-classes:$(cat target/cp.txt) io.github.quicpush.client.ClientCostBench 500000
 * </pre>
 */
public final class ClientCostBench {
    private ClientCostBench() {}

    /** Bytes allocated and nanoseconds per push, measured over {@code n} pushes after as many of warm-up. */
    record Result(double bytesPerPush, double nanosPerPush) {}

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 500_000;
        for (int round = 0; round < 3; round++) {
            Result r = measure(n);
            System.out.printf("round %d: %,d pushes: %.1f bytes allocated per push (client threads), %.0f ns per push%n",
                    round + 1, n, r.bytesPerPush(), r.nanosPerPush());
        }
    }

    static Result measure(int n) throws Exception {
        ClientBehaviourTest.FakeDialer d = new ClientBehaviourTest.FakeDialer();
        CountDownLatch[] done = {new CountDownLatch(n)};
        try (QuicpushClient c = QuicpushClient.builder("tcp://edge.test:1")
                .token("t")
                .onMessage(m -> done[0].countDown())
                .dialers(d, d)
                .build()) {
            ClientBehaviourTest.FakeConn e =
                    ClientBehaviourTest.connect(c, d, new AuthOk("k", "u", 600_000, Limits.MAX_FRAME, 0, 0, ""));
            ClientBehaviourTest.join(c, e, new JoinOk("news/sport", 0, 0, "e7f3"));

            byte[] payload = new byte[100];
            long[] offset = {0};
            Runnable feed = () -> {
                try {
                    ByteArrayOutputStream batch = new ByteArrayOutputStream(64 << 10);
                    for (int i = 0; i < n; i++) {
                        offset[0]++;
                        Frames.encode(batch, 0, new Push(Push.KIND_ROOM, "news/sport", "m" + offset[0], offset[0],
                                "e7f3", payload, 0));
                        if (batch.size() > 60_000) {
                            e.sendRaw(batch.toByteArray());
                            batch.reset();
                        }
                    }
                    e.sendRaw(batch.toByteArray());
                } catch (Exception ex) {
                    throw new RuntimeException(ex);
                }
            };
            // Warm-up, then the measured run. This thread writes: a pipe breaks when its last writer thread ends.
            feed.run();
            done[0].await(120, TimeUnit.SECONDS);

            done[0] = new CountDownLatch(n);
            long[] ids = clientThreads();
            long before = allocated(ids);
            long t0 = System.nanoTime();
            feed.run();
            if (!done[0].await(120, TimeUnit.SECONDS)) {
                throw new IllegalStateException("pushes lost: " + done[0].getCount() + " of " + n + " missing");
            }
            long ns = System.nanoTime() - t0;
            long after = allocated(ids);
            return new Result((double) (after - before) / n, (double) ns / n);
        }
    }

    private static long[] clientThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().matches("quicpush-(loop|reader|callbacks)-\\d+"))
                .mapToLong(Thread::getId)
                .toArray();
    }

    private static long allocated(long[] ids) {
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        return Arrays.stream(mx.getThreadAllocatedBytes(ids)).filter(b -> b > 0).sum();
    }
}
