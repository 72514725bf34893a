package io.github.quicpush.client;

import java.util.List;

/**
 * Who came into and went out of a room since the previous notice (docs/protocol.md section 6.9), in rooms whose
 * namespace turns notices on. Notices are coalesced (at most one per room per interval, 1 s by default) and best
 * effort: they are not replayed after a reconnect. For an exact member list ask {@link QuicpushClient#presence}.
 *
 * @param room the room
 * @param joined connections that joined, this one included when it is the one that joined
 * @param left connections that left
 * @param omitted joins and leaves left out of the two lists (a notice lists at most 100 of each)
 */
public record JoinLeaveEvent(String room, List<Member> joined, List<Member> left, long omitted) {}
