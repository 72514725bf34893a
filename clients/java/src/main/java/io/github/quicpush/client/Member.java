package io.github.quicpush.client;

/**
 * One connection in a room, as join and leave notices and presence list it (docs/protocol.md sections 6.9 and
 * 6.10).
 *
 * @param user the connection's user id
 * @param connKey the edge's key of the connection
 * @param info the JSON object the connection's token ({@code info} claim) or the application's backend attached to
 *     it, as text of at most 1024 bytes; empty for none
 */
public record Member(String user, String connKey, String info) {}
