package io.github.quicpush.client;

import java.util.List;

/**
 * Who is in a room (docs/protocol.md section 6.10), the answer to {@link QuicpushClient#presence}.
 *
 * @param room the room
 * @param conns the room's connections across the cluster
 * @param users the distinct users among them
 * @param complete whether {@code members} lists every connection; false when the room has more members than the
 *     edge lists (1000 by default) or than one frame holds, and then {@code members} holds some or none
 * @param members the connections listed
 */
public record Presence(String room, long conns, long users, boolean complete, List<Member> members) {}
