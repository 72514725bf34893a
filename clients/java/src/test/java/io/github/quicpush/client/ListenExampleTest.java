package io.github.quicpush.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quicpush.client.example.Listen;
import io.github.quicpush.client.testing.ServerProcess;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The README's runnable example against a real edge: it connects over QUIC, joins, prints a push and exits. */
class ListenExampleTest {
    @Test
    void printsAPushAndExits() throws Exception {
        try (ServerProcess s = ServerProcess.start()) {
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8);
            String token = s.token("alice", "news", Duration.ofMinutes(5));
            String[] args = {
                // QUIC alone: with TCP behind it, a QUIC dial slower than the 1 s fallback would end on TCP.
                "--endpoint", "quic://127.0.0.1:" + s.quicPort(),
                "--token", token,
                "--cert-hash", HexFormat.of().formatHex(s.certHash()),
                "--room", "news",
                "--count", "1",
            };
            CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> {
                try {
                    return Listen.run(args, out);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (!buf.toString(StandardCharsets.UTF_8).contains("joined news") && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            s.call("PushRoom", "{\"room\":\"news\",\"text\":\"hello from the backend\"}");
            assertEquals(0, exit.get(15, TimeUnit.SECONDS), buf.toString(StandardCharsets.UTF_8));
            String printed = buf.toString(StandardCharsets.UTF_8);
            assertTrue(printed.contains("connected over quic"), printed);
            assertTrue(printed.contains("news ") && printed.contains(" hello from the backend"), printed);
        }
    }
}
