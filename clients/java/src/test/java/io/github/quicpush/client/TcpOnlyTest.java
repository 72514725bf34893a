package io.github.quicpush.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quicpush.client.example.Listen;
import io.github.quicpush.client.testing.ServerProcess;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The README's "TCP only": with Kwik excluded from the classpath the client still works, over the TCP endpoint
 * that follows the QUIC one. Runs the example in a JVM of its own whose classpath lacks Kwik and its dependencies.
 */
class TcpOnlyTest {
    @Test
    void worksWithoutKwikOverTcp() throws Exception {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> all = Arrays.asList(cp.split(File.pathSeparator));
        List<String> kept = all.stream()
                .filter(e -> !e.contains("/tech/kwik/") && !e.contains("/at/favre/") && !e.contains("whitfin"))
                .toList();
        assertTrue(all.stream().anyMatch(e -> e.contains("/tech/kwik/")), "the test classpath should hold Kwik: " + cp);
        assertFalse(kept.stream().anyMatch(e -> e.contains("kwik")), "Kwik left on the trimmed classpath");
        try (ServerProcess s = ServerProcess.start()) {
            String token = s.token("alice", "news", Duration.ofMinutes(5));
            Path out = Files.createTempFile("tcp-only", ".log");
            Process p = new ProcessBuilder(
                            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                            "-cp", kept.stream().collect(Collectors.joining(File.pathSeparator)),
                            Listen.class.getName(),
                            "--endpoint", "quic://127.0.0.1:" + s.quicPort() + " tcp://127.0.0.1:" + s.tcpPort(),
                            "--token", token,
                            "--cert-hash", HexFormat.of().formatHex(s.certHash()),
                            "--room", "news",
                            "--count", "1")
                    .redirectErrorStream(true)
                    .redirectOutput(out.toFile())
                    .start();
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (!Files.readString(out, StandardCharsets.UTF_8).contains("joined news")
                        && p.isAlive() && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                s.call("PushRoom", "{\"room\":\"news\",\"text\":\"over tcp without kwik\"}");
                assertTrue(p.waitFor(20, TimeUnit.SECONDS), "the example did not exit");
                String printed = Files.readString(out, StandardCharsets.UTF_8);
                assertEquals(0, p.exitValue(), printed);
                assertTrue(printed.contains("connected over tcp"), printed);
                assertTrue(printed.contains("over tcp without kwik"), printed);
            } finally {
                p.destroyForcibly();
                Files.deleteIfExists(out);
            }
        }
    }
}
