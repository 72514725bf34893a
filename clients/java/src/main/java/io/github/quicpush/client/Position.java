package io.github.quicpush.client;

/** A place in a stream (docs/protocol.md section 11). Owned by the client's loop thread. */
final class Position {
    long offset;
    String epoch = "";

    /**
     * Applies a positioned message and reports whether it is new. One of this epoch at or below this offset is a
     * repeat of at-least-once delivery; another epoch starts a new position.
     */
    boolean advance(long offset, String epoch) {
        if (offset == 0 && epoch.isEmpty()) {
            return true; // belongs to no stream
        }
        if (epoch.equals(this.epoch) && Long.compareUnsigned(offset, this.offset) <= 0) {
            return false;
        }
        this.offset = offset;
        this.epoch = epoch;
        return true;
    }

    void set(long offset, String epoch) {
        this.offset = offset;
        this.epoch = epoch;
    }
}
