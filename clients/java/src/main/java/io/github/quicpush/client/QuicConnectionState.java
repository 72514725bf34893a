package io.github.quicpush.client;

import java.util.OptionalInt;
import org.jspecify.annotations.Nullable;
import tech.kwik.core.ConnectionListener;
import tech.kwik.core.ConnectionTerminatedEvent;

/**
 * What Kwik tells about how a connection ended: the application error code the edge closed it with (the
 * disconnect code, docs/protocol.md section 6.5) or why it failed.
 */
final class QuicConnectionState implements ConnectionListener {

    private volatile @Nullable Long appCode;
    private volatile @Nullable String failure;

    @Override
    public void disconnected(ConnectionTerminatedEvent event) {
        if (event.hasApplicationError() && event.applicationErrorCode() != null) {
            appCode = event.applicationErrorCode();
        } else if (event.closedByPeer() && !event.hasError()) {
            // CONNECTION_CLOSE of the application kind with code 0 (the edge after a FIN): Kwik reports no error.
            appCode = 0L;
        }
        if (event.hasError()) {
            String desc = event.errorDescription();
            failure = event.closeReason() + (event.hasTransportError() ? " transport error " + event.transportErrorCode()
                    : " application error " + event.applicationErrorCode())
                    + (desc == null || desc.isEmpty() ? "" : ": " + desc);
        } else {
            failure = String.valueOf(event.closeReason());
        }
    }

    OptionalInt closeCode() {
        Long c = appCode;
        return c == null || c < 0 || c > Integer.MAX_VALUE ? OptionalInt.empty() : OptionalInt.of(c.intValue());
    }

    @Nullable String failure() {
        return failure;
    }
}
