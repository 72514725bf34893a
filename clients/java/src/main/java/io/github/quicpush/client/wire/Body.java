package io.github.quicpush.client.wire;

/**
 * The decoded body of a frame of a version-1 op. Strings are UTF-8 on the wire; a decoder does not validate them
 * (malformed sequences become U+FFFD). {@link Frames#encode(int, Body)} rejects a string over its limit with
 * {@link IllegalArgumentException}, since the edge would close the connection for it.
 */
public sealed interface Body
        permits Auth, AuthOk, Ping, Pong, Join, JoinOk, Leave, LeaveOk, Push, RequestError, Disconnect,
                TokenExpiring, Refresh, RefreshOk, Subscribed, Unsubscribed, JoinLeave, PresenceGet, PresenceOk {

    /** The op of the frame that carries this body. */
    int op();
}
