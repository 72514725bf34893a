package io.github.quicpush.client.wire;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/** docs/protocol-vectors.json, and the mapping of a vector's {@code fields} to a {@link Body}. */
final class Vectors {
    static final HexFormat HEX = HexFormat.of();
    private static JsonNode root;

    private Vectors() {}

    static synchronized JsonNode root() {
        if (root == null) {
            String file = System.getProperty("quicpush.vectors");
            if (file == null) {
                throw new IllegalStateException("system property quicpush.vectors is not set (run through Maven)");
            }
            try {
                root = new ObjectMapper().readTree(Path.of(file).toFile());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return root;
    }

    /** A section that must be a non-empty array or object: a section that vanished must fail, not pass. */
    static JsonNode section(String name) {
        JsonNode n = root().get(name);
        if (n == null || n.size() == 0) {
            throw new AssertionError("vectors: section " + name + " is missing or empty");
        }
        return n;
    }

    static byte[] hex(JsonNode v) {
        return HEX.parseHex(v.get("hex").asText());
    }

    /** A u64 written as a decimal string (offsets, flags) or as a JSON number. */
    static long u64(JsonNode n) {
        if (n.isTextual()) {
            return Long.parseUnsignedLong(n.asText());
        }
        if (!n.isIntegralNumber()) {
            throw new AssertionError("not an integer: " + n);
        }
        return n.bigIntegerValue().longValue();
    }

    /** The Body the vector's fields describe; fails on a field this mapping does not know. */
    static Body body(String op, JsonNode f) {
        Fields x = new Fields(f);
        Body b = switch (op) {
            case "auth" -> new Auth(x.u64("version"), x.str("token"), x.u64("offset"), x.str("epoch"),
                    x.optionalU64("joins"));
            case "auth_ok" -> new AuthOk(x.str("conn_key"), x.str("user"), x.u64("ping_interval_ms"),
                    x.u64("max_frame"), x.i("recovery"), x.u64("offset"), x.str("epoch"), x.optionalU64("revision"));
            case "ping" -> new Ping();
            case "pong" -> new Pong();
            case "join" -> new Join(x.str("room"), x.u64("offset"), x.str("epoch"));
            case "join_ok" -> new JoinOk(x.str("room"), x.i("recovery"), x.u64("offset"), x.str("epoch"));
            case "leave" -> new Leave(x.str("room"));
            case "leave_ok" -> new LeaveOk(x.str("room"));
            case "push" -> new Push(x.i("kind"), x.str("room"), x.str("id"), x.u64("offset"), x.str("epoch"),
                    HEX.parseHex(x.str("data_hex")), x.u64("flags"));
            case "error" -> new RequestError(x.i("code"), x.str("message"));
            case "disconnect" -> new Disconnect(x.i("code"), x.str("reason"));
            case "token_expiring" -> new TokenExpiring(x.u64("expires_in_ms"));
            case "refresh" -> new Refresh(x.str("token"));
            case "refresh_ok" -> new RefreshOk(x.u64("expires_in_ms"));
            case "subscribed" -> new Subscribed(x.str("room"), x.i("recovery"), x.u64("offset"), x.str("epoch"));
            case "unsubscribed" -> new Unsubscribed(x.str("room"));
            case "join_leave" -> new JoinLeave(x.str("room"), x.members("joined"), x.members("left"),
                    x.u64("omitted"));
            case "presence_get" -> new PresenceGet(x.str("room"));
            case "presence_ok" -> new PresenceOk(x.str("room"), x.u64("conns"), x.u64("users"), x.bool("complete"),
                    x.members("members"));
            default -> throw new AssertionError("vectors: unknown op " + op);
        };
        x.allUsed(op);
        return b;
    }

    /** Reads fields by name and remembers which were read, so a field added to the vectors is noticed. */
    private static final class Fields {
        private final JsonNode f;
        private final Set<String> used = new TreeSet<>();

        Fields(JsonNode f) {
            this.f = f;
        }

        private JsonNode get(String name) {
            JsonNode n = f.get(name);
            if (n == null) {
                throw new AssertionError("vectors: field " + name + " missing in " + f);
            }
            used.add(name);
            return n;
        }

        String str(String name) {
            return get(name).asText();
        }

        long u64(String name) {
            return Vectors.u64(get(name));
        }

        /** A field a later revision added: vectors of earlier frames leave it out, which means 0. */
        long optionalU64(String name) {
            return f.has(name) ? u64(name) : 0;
        }

        boolean bool(String name) {
            JsonNode n = get(name);
            if (!n.isBoolean()) {
                throw new AssertionError("vectors: " + name + " is not a boolean: " + n);
            }
            return n.asBoolean();
        }

        /** A member list: user, conn_key and info (JSON text, empty for none) of each. */
        List<Member> members(String name) {
            List<Member> out = new ArrayList<>();
            for (JsonNode m : get(name)) {
                Fields mf = new Fields(m);
                out.add(new Member(mf.str("user"), mf.str("conn_key"),
                        mf.str("info").getBytes(StandardCharsets.UTF_8)));
                mf.allUsed(name + " member");
            }
            return out;
        }

        int i(String name) {
            return Math.toIntExact(Vectors.u64(get(name)));
        }

        void allUsed(String op) {
            Set<String> all = new TreeSet<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = f.fields(); it.hasNext(); ) {
                all.add(it.next().getKey());
            }
            all.removeAll(used);
            if (!all.isEmpty()) {
                throw new AssertionError("vectors: " + op + " fields not checked: " + all);
            }
        }
    }
}
