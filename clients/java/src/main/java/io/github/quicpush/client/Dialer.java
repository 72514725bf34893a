package io.github.quicpush.client;

import java.io.IOException;

/** Opens a {@link Transport} to one endpoint. One implementation per transport kind. */
interface Dialer {

    /**
     * Connects to {@code endpoint} within {@code options.dialTimeout()} and delivers {@code firstFlight} (the
     * encoded Auth frame and the Join frames that follow it) to the edge: as 0-RTT data when the transport can and
     * a session ticket allows it, otherwise written once the connection is up. Returns only when the bytes are
     * written (or queued as early data); the caller then reads AuthOK from {@link Transport#in()}.
     */
    Transport dial(Endpoint endpoint, byte[] firstFlight, DialOptions options) throws IOException;
}
