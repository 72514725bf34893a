package io.github.quicpush.client;

import org.jspecify.annotations.Nullable;

/**
 * The answer to a resume (docs/protocol.md section 11): the client sent the last position it saw in a stream, and
 * the edge either replays what was missed ({@code recovered}) or says it cannot. It comes before the replayed
 * messages. When not recovered, fetch what the application needs from its backend (the push API's History).
 *
 * @param room the room, or null for the user's own stream (direct pushes)
 * @param recovered true: every missed message follows, in order; false: missed messages are gone
 * @param offset the stream's position when the edge read it (unsigned)
 * @param epoch the stream's epoch
 */
public record RecoveryEvent(@Nullable String room, boolean recovered, long offset, String epoch) {}
