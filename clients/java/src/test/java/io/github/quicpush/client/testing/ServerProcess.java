package io.github.quicpush.client.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * A real {@code quicpush serve} for tests: loopback ports the kernel picks (read back from the banner, so two tests
 * never race for a port), a temporary development directory unless one is given, warnings only in its log.
 */
public final class ServerProcess implements AutoCloseable {

    static {
        // Surefire runs tests with -ea, and Kwik 0.10.8 has an assert in its loss detector that fails under load on
        // an ACK during a 0-RTT handshake; it kills Kwik's receiver thread and the connection hangs. Production code
        // runs without -ea, where the check is skipped. Every test that dials QUIC starts a server first, so this
        // runs before Kwik's classes are loaded.
        ClassLoader kwik = ServerProcess.class.getClassLoader();
        if (kwik != null) {
            kwik.setPackageAssertionStatus("tech.kwik", false);
        }
    }

    private static final Duration START_TIMEOUT = Duration.ofSeconds(20);
    private static final Pattern QUIC = Pattern.compile("quic://127\\.0\\.0\\.1:(\\d+)");
    private static final Pattern TCP = Pattern.compile("tcp://127\\.0\\.0\\.1:(\\d+)");
    private static final Pattern API = Pattern.compile("push API\\s+http://127\\.0\\.0\\.1:(\\d+)");
    private static final Pattern HASH = Pattern.compile("base64 (\\S+)");
    private static final Pattern KEY = Pattern.compile("API key\\s+(\\S+)");
    private static final Pattern JWT_SECRET = Pattern.compile("\"jwt_secret\"\\s*:\\s*\"([^\"]+)\"");
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final Process process;
    private final Path devDir;
    private final boolean ownsDir;
    private final StringBuffer out = new StringBuffer();
    private final int quicPort;
    private final int tcpPort;
    private final int apiPort;
    private final byte[] certHash;
    private final String apiKey;

    /** Starts a server with a new temporary dev dir (a new certificate and new secrets). */
    public static ServerProcess start(String... extraServeFlags) throws IOException {
        Path dir = Files.createTempDirectory("quicpush-test-");
        try {
            return new ServerProcess(dir, true, extraServeFlags);
        } catch (IOException | RuntimeException e) {
            deleteTree(dir);
            throw e;
        }
    }

    /**
     * Starts a server on an existing dev dir: the same certificate and secrets as the server that made it, as after
     * a restart. Pass {@code --quic-addr}/{@code --tcp-addr}/{@code --api-addr} in {@code extra} to keep the ports.
     */
    public static ServerProcess start(Path devDir, String... extra) throws IOException {
        return new ServerProcess(devDir, false, extra);
    }

    /** The server binary, from the {@code quicpush.bin} system property. */
    public static Path binary() {
        String bin = System.getProperty("quicpush.bin");
        if (bin == null || bin.isEmpty()) {
            throw new IllegalStateException("system property quicpush.bin is not set (run the tests with mvn, which"
                    + " points it at bin/quicpush)");
        }
        Path p = Path.of(bin);
        if (!Files.isExecutable(p)) {
            throw new IllegalStateException("quicpush server binary " + p.toAbsolutePath()
                    + " is missing or not executable: run `make build` at the repository root first");
        }
        return p;
    }

    private ServerProcess(Path devDir, boolean ownsDir, String... extra) throws IOException {
        this.devDir = devDir;
        this.ownsDir = ownsDir;
        List<String> cmd = new ArrayList<>();
        cmd.add(binary().toString());
        cmd.add("serve");
        List<String> ex = Arrays.asList(extra);
        addUnlessGiven(cmd, ex, "--quic-addr", "127.0.0.1:0");
        addUnlessGiven(cmd, ex, "--tcp-addr", "127.0.0.1:0");
        addUnlessGiven(cmd, ex, "--api-addr", "127.0.0.1:0");
        addUnlessGiven(cmd, ex, "--log-level", "warn");
        cmd.add("--dev-dir");
        cmd.add(devDir.toString());
        cmd.addAll(ex);
        process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        process.getOutputStream().close();
        Thread reader = new Thread(this::pump, "quicpush-serve-output");
        reader.setDaemon(true);
        reader.start();
        String banner = awaitBanner();
        quicPort = Integer.parseInt(find(QUIC, banner));
        tcpPort = Integer.parseInt(find(TCP, banner));
        apiPort = Integer.parseInt(find(API, banner));
        certHash = Base64.getDecoder().decode(find(HASH, banner));
        apiKey = find(KEY, banner);
    }

    private static void addUnlessGiven(List<String> cmd, List<String> extra, String flag, String value) {
        for (String e : extra) {
            if (e.equals(flag) || e.startsWith(flag + "=")) {
                return;
            }
        }
        cmd.add(flag);
        cmd.add(value);
    }

    private void pump() {
        try (BufferedReader r = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                synchronized (out) {
                    out.append(line).append('\n');
                    out.notifyAll();
                }
            }
        } catch (IOException ignored) {
            // The process ended.
        } finally {
            synchronized (out) {
                out.notifyAll();
            }
        }
    }

    private String awaitBanner() throws IOException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        synchronized (out) {
            while (!KEY.matcher(out).find()) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (!process.isAlive()) {
                    throw new IOException("quicpush serve exited (" + exitCode() + ") before its banner:\n" + out);
                }
                if (left <= 0) {
                    kill();
                    throw new IOException("quicpush serve printed no banner in " + START_TIMEOUT + ":\n" + out);
                }
                try {
                    // Woken by each line; the bound also notices an exit that printed nothing.
                    out.wait(Math.min(left, 200));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    kill();
                    throw new IOException("interrupted while starting quicpush serve", e);
                }
            }
            return out.toString();
        }
    }

    private String exitCode() {
        try {
            return String.valueOf(process.exitValue());
        } catch (IllegalThreadStateException e) {
            return "running";
        }
    }

    private static String find(Pattern p, String banner) throws IOException {
        Matcher m = p.matcher(banner);
        if (!m.find()) {
            throw new IOException("quicpush serve banner has no " + p.pattern() + ":\n" + banner);
        }
        return m.group(1);
    }

    public int quicPort() {
        return quicPort;
    }

    public int tcpPort() {
        return tcpPort;
    }

    public int apiPort() {
        return apiPort;
    }

    public Path devDir() {
        return devDir;
    }

    /** SHA-256 of the development certificate (DER), as the banner prints it. */
    public byte[] certHash() {
        return certHash.clone();
    }

    public String apiKey() {
        return apiKey;
    }

    /** Mints a client token with {@code quicpush token}; {@code rooms} is comma-separated ({@code a,b*}). */
    public String token(String user, String rooms, Duration ttl) throws IOException {
        List<String> cmd = List.of(binary().toString(), "token", "--user", user, "--rooms", rooms,
                "--ttl", ttl.toMillis() + "ms", "--dev-dir", devDir.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        try {
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("quicpush token did not finish");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        if (p.exitValue() != 0 || text.isEmpty() || text.contains(" ")) {
            throw new IOException("quicpush token failed (" + p.exitValue() + "): " + text);
        }
        return text;
    }

    /**
     * A client token with an {@code info} claim (docs/protocol.md section 7), which {@code quicpush token} does not
     * set: signed here (HS256) with the development secret {@code serve} keeps in its dev dir, as that command signs.
     * {@code rooms} is comma-separated; {@code infoJson} is a compact JSON object, as the edge passes it on.
     */
    public String token(String user, String rooms, Duration ttl, String infoJson) throws IOException {
        String secrets = Files.readString(devDir.resolve("secrets.json"), StandardCharsets.UTF_8);
        Matcher m = JWT_SECRET.matcher(secrets);
        if (!m.find()) {
            throw new IOException(devDir.resolve("secrets.json") + " holds no jwt_secret");
        }
        byte[] secret = Base64.getDecoder().decode(m.group(1));
        long now = System.currentTimeMillis() / 1000;
        StringBuilder claims = new StringBuilder("{\"sub\":").append(jsonString(user)).append(",\"rooms\":[");
        String[] rs = rooms.split(",");
        for (int i = 0; i < rs.length; i++) {
            claims.append(i > 0 ? "," : "").append(jsonString(rs[i]));
        }
        claims.append("],\"info\":").append(infoJson)
                .append(",\"iat\":").append(now)
                .append(",\"exp\":").append(now + ttl.toSeconds())
                .append('}');
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        String signed = b64.encodeToString("{\"alg\":\"HS256\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8))
                + "." + b64.encodeToString(claims.toString().getBytes(StandardCharsets.UTF_8));
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            return signed + "." + b64.encodeToString(mac.doFinal(signed.getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IOException("signing a token", e);
        }
    }

    /** A JSON string of s, which holds no quote, backslash or control character (test names). */
    private static String jsonString(String s) {
        if (!s.chars().allMatch(ch -> ch >= 0x20 && ch != '"' && ch != '\\')) {
            throw new IllegalArgumentException("test names hold no quote, backslash or control character: " + s);
        }
        return '"' + s + '"';
    }

    /** Calls the push API's {@code method} with a JSON body; returns the JSON reply, throws with it on non-2xx. */
    public String call(String method, String json) throws IOException {
        HttpRequest req = HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + apiPort + "/quicpush.push.v1.PushService/" + method))
                .timeout(Duration.ofSeconds(10))
                .header("Authorization", "Bearer " + apiKey)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json))
                .build();
        HttpResponse<String> resp;
        try {
            resp = HTTP.send(req, HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        if (resp.statusCode() / 100 != 2) {
            throw new IOException(method + " " + json + ": HTTP " + resp.statusCode() + ": " + resp.body());
        }
        return resp.body();
    }

    /** SIGTERM: the server drains (Disconnect to every client) and exits; waits up to 15 s. */
    public void drain() {
        process.destroy();
        await(15);
    }

    /** SIGKILL: clients see their connections die without a word. */
    public void kill() {
        process.destroyForcibly();
        await(10);
    }

    private void await(int seconds) {
        try {
            if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
                throw new IllegalStateException("quicpush serve did not exit in " + seconds + " s:\n" + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            kill();
        }
        if (ownsDir) {
            deleteTree(devDir);
        }
    }

    /** What the server printed so far. */
    public String output() {
        return out.toString();
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException e) {
            // A leftover temp dir is not worth failing a test over.
        }
    }
}
