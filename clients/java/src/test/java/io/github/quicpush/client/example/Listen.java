package io.github.quicpush.client.example;

import io.github.quicpush.client.QuicpushClient;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * A plain JVM program that connects as a client, joins rooms and prints every push: the Java counterpart of
 * {@code quicpush listen}. Run it against {@code make run} (see clients/java/README.md, "Try it"):
 *
 * <pre>
 * Listen --token JWT --cert-hash HEX [--endpoint "quic://127.0.0.1:4433 tcp://127.0.0.1:4434"] [--room R]... [--count N]
 * </pre>
 */
public final class Listen {
    private Listen() {}

    public static void main(String[] args) throws Exception {
        System.exit(run(args, System.out));
    }

    /** Runs the program; returns its exit status. */
    public static int run(String[] args, PrintStream out) throws Exception {
        String endpoint = "quic://127.0.0.1:4433 tcp://127.0.0.1:4434";
        String token = null;
        String hash = null;
        List<String> rooms = new ArrayList<>();
        int count = 0;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--endpoint" -> endpoint = args[i + 1];
                case "--token" -> token = args[i + 1];
                case "--cert-hash" -> hash = args[i + 1];
                case "--room" -> rooms.add(args[i + 1]);
                case "--count" -> count = Integer.parseInt(args[i + 1]);
                default -> {
                    out.println("unknown flag " + args[i]);
                    return 2;
                }
            }
        }
        if (token == null) {
            out.println("usage: Listen --token JWT [--cert-hash HEX] [--endpoint URLS] [--room R]... [--count N]");
            return 2;
        }
        int limit = count;
        CountDownLatch done = new CountDownLatch(count > 0 ? count : 1); // without --count: until interrupted
        QuicpushClient.Builder b = QuicpushClient.builder(endpoint)
                .token(token)
                .onConnect(e -> out.println("connected over " + e.transport() + " to " + e.endpoint() + " as " + e.user()))
                .onDisconnect(e -> out.println("disconnected " + e.code() + " " + e.reason()
                        + (e.reconnect() ? " (reconnecting)" : "")))
                .onRecovery(e -> out.println((e.room() == null ? "user stream" : e.room())
                        + (e.recovered() ? ": recovered" : ": NOT recovered")))
                .onMessage(m -> {
                    out.println((m.room().isEmpty() ? "direct" : m.room()) + " " + m.id() + " " + m.text());
                    if (limit > 0) {
                        done.countDown();
                    }
                });
        if (hash != null) {
            b.certHash(hash); // hex or base64, as serve's banner prints it
        }
        try (QuicpushClient client = b.build()) {
            client.connect().get();
            for (String room : rooms) {
                client.join(room).get();
                out.println("joined " + room);
            }
            done.await();
        }
        return 0;
    }
}
