package io.github.quicpush.client.wire;

import java.nio.charset.StandardCharsets;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;

/** Generators of valid bodies for the property tests: every op, limits reached, unicode, every u64. */
final class Generators {
    private Generators() {}

    /** Text of any valid code point (no lone surrogates: those cannot be sent as UTF-8), up to maxBytes bytes. */
    static Arbitrary<String> text(int maxBytes) {
        Arbitrary<String> any = Arbitraries.integers().between(0, 0x10FFFF)
                .filter(cp -> cp < 0xD800 || cp > 0xDFFF)
                .list().ofMaxSize(Math.min(maxBytes, 64))
                .map(cps -> {
                    StringBuilder sb = new StringBuilder();
                    cps.forEach(sb::appendCodePoint);
                    return sb.toString();
                });
        Arbitrary<String> ascii = Arbitraries.strings().ascii().ofMaxLength(Math.min(maxBytes, 300));
        // Exactly at the limit, in 1-, 2-, 3- and 4-byte characters.
        Arbitrary<String> full = Arbitraries.of(
                "x".repeat(maxBytes),
                "я".repeat(maxBytes / 2) + "x".repeat(maxBytes % 2),
                "日".repeat(maxBytes / 3) + "x".repeat(maxBytes % 3),
                "\uD83D\uDE00".repeat(maxBytes / 4) + "x".repeat(maxBytes % 4));
        return Arbitraries.frequencyOf(
                        net.jqwik.api.Tuple.of(5, any), net.jqwik.api.Tuple.of(3, ascii), net.jqwik.api.Tuple.of(1, full))
                .filter(s -> s.getBytes(StandardCharsets.UTF_8).length <= maxBytes);
    }

    static Arbitrary<String> name() {
        return text(Limits.MAX_NAME);
    }

    static Arbitrary<Long> u64() {
        return Arbitraries.oneOf(List.of(
                Arbitraries.longs(),
                Arbitraries.of(0L, 1L, 127L, 128L, 300L, Long.MAX_VALUE, Long.MIN_VALUE, -1L)));
    }

    static Arbitrary<byte[]> data() {
        return Arbitraries.bytes().array(byte[].class).ofMaxSize(2000);
    }

    static Arbitrary<Integer> recovery() {
        return Arbitraries.integers().between(Recovery.NONE, Recovery.NOT_RECOVERED);
    }

    static Arbitrary<Integer> u16() {
        return Arbitraries.integers().between(0, 0xffff);
    }

    static Arbitrary<Body> bodies() {
        Arbitrary<String> token = text(Limits.MAX_TOKEN);
        return Arbitraries.oneOf(List.of(
                Combinators.combine(u64(), token, u64(), name(), u64()).as(Auth::new),
                Combinators.combine(name(), name(), u64(), u64(), recovery(), u64(), name(), u64()).as(AuthOk::new),
                Arbitraries.just(new Ping()),
                Arbitraries.just(new Pong()),
                Combinators.combine(name(), u64(), name()).as(Join::new),
                Combinators.combine(name(), recovery(), u64(), name()).as(JoinOk::new),
                name().map(Leave::new),
                name().map(LeaveOk::new),
                Combinators.combine(Arbitraries.integers().between(0, 2), name(), name(), u64(), name(), data(), u64())
                        .as(Push::new),
                Combinators.combine(u16(), text(2000)).as(RequestError::new),
                Combinators.combine(u16(), text(2000)).as(Disconnect::new),
                u64().map(TokenExpiring::new),
                token.map(Refresh::new),
                u64().map(RefreshOk::new),
                Combinators.combine(name(), recovery(), u64(), name()).as(Subscribed::new),
                name().map(Unsubscribed::new),
                Combinators.combine(name(), members(), members(), u64()).as(JoinLeave::new),
                name().map(PresenceGet::new),
                Combinators.combine(name(), u64(), u64(), Arbitraries.of(true, false), members())
                        .as(PresenceOk::new)));
    }

    /** Member info: empty, JSON text up to the limit, or any bytes (the codec does not parse it). */
    static Arbitrary<byte[]> info() {
        return Arbitraries.oneOf(List.of(
                Arbitraries.just(new byte[0]),
                text(Limits.MAX_INFO).map(t -> ("{\"n\":\"" + t + "\"}").getBytes(StandardCharsets.UTF_8))
                        .filter(b -> b.length <= Limits.MAX_INFO),
                Arbitraries.bytes().array(byte[].class).ofMaxSize(Limits.MAX_INFO)));
    }

    static Arbitrary<List<Member>> members() {
        return Combinators.combine(name(), name(), info()).as(Member::new).list().ofMaxSize(8);
    }

    static Arbitrary<Integer> seqs() {
        return Arbitraries.oneOf(List.of(Arbitraries.integers(), Arbitraries.of(0, 1, -1)));
    }
}
