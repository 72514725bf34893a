package io.github.quicpush.client.wire;

import java.util.Arrays;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A message delivered to the client. {@code kind} is {@link #KIND_DIRECT}, {@link #KIND_ROOM} or
 * {@link #KIND_BROADCAST}; {@code room} is set for room pushes; {@code offset} and {@code epoch} are the message's
 * stream position (0 and empty for none); {@code flags} (revision 4) is 0 for a reliable push, and bits other
 * than {@link #FLAG_EPHEMERAL} are kept but mean nothing yet.
 *
 * <p>{@code data} is not copied by the accessor: a decoded push owns a fresh array, which the application may keep.
 * Equality compares its contents.
 */
public record Push(int kind, String room, String id, long offset, String epoch, byte[] data, long flags)
        implements Body {
    /** To this connection's key or user. */
    public static final int KIND_DIRECT = 0;
    /** To a room this connection is in (joined, or put in by the backend). */
    public static final int KIND_ROOM = 1;
    /** To every connection. */
    public static final int KIND_BROADCAST = 2;
    /** Superseded state: no position, may be dropped or reordered, may arrive in a datagram (section 6.7). */
    public static final long FLAG_EPHEMERAL = 1;

    public Push {
        Objects.requireNonNull(room, "room");
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(epoch, "epoch");
        Objects.requireNonNull(data, "data");
    }

    /** Whether the push carries {@link #FLAG_EPHEMERAL}. */
    public boolean ephemeral() {
        return (flags & FLAG_EPHEMERAL) != 0;
    }

    @Override
    public int op() {
        return Op.PUSH;
    }

    @Override
    public boolean equals(@Nullable Object o) {
        return o instanceof Push p && kind == p.kind && offset == p.offset && flags == p.flags
                && room.equals(p.room) && id.equals(p.id) && epoch.equals(p.epoch) && Arrays.equals(data, p.data);
    }

    @Override
    public int hashCode() {
        int h = Objects.hash(kind, room, id, offset, epoch, flags);
        return 31 * h + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "Push[kind=" + kind + ", room=" + room + ", id=" + id + ", offset=" + Long.toUnsignedString(offset)
                + ", epoch=" + epoch + ", data=" + data.length + " bytes, flags=" + Long.toUnsignedString(flags) + "]";
    }
}
