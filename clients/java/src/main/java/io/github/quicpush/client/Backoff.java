package io.github.quicpush.client;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Full-jitter exponential backoff (docs/protocol.md section 8.1): retry n waits a uniform time in
 * [0, min(max, min * 2^n)), so that the clients of a drained edge never come back in one wave.
 */
final class Backoff {
    private final long minNanos;
    private final long maxNanos;

    Backoff(Duration min, Duration max) {
        this.minNanos = min.toNanos();
        this.maxNanos = Math.max(max.toNanos(), minNanos);
    }

    /** The delay before retry {@code attempt} (from 0), in nanoseconds. */
    long delayNanos(int attempt) {
        long cap = minNanos;
        for (int i = 0; i < attempt && cap < maxNanos; i++) {
            cap *= 2;
        }
        cap = Math.min(cap, maxNanos);
        return cap <= 0 ? 0 : ThreadLocalRandom.current().nextLong(cap);
    }
}
