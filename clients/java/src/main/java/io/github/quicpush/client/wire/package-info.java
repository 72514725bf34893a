/**
 * The quicpush frame codec, protocol version 1 revision 5 (docs/protocol.md sections 3-5, 6.7-6.10, 9 and 10): frame
 * headers, every body, the codes and the limits, and a reader that splits a byte stream into frames.
 *
 * <p>Unsigned wire values live in signed Java types: {@code seq} (u32) in an {@code int}, offsets, flags and
 * millisecond counts (u64) in a {@code long}. Compare offsets with {@link java.lang.Long#compareUnsigned} and print
 * them with {@link java.lang.Long#toUnsignedString(long)}.
 */
@NullMarked
package io.github.quicpush.client.wire;

import org.jspecify.annotations.NullMarked;
