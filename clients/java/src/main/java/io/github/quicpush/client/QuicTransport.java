package io.github.quicpush.client;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.OptionalInt;
import tech.kwik.core.QuicStream;
import tech.kwik.core.QuicClientConnection;

/** A Kwik connection and its one bidirectional stream as a {@link Transport}. */
final class QuicTransport implements Transport {

    private final QuicClientConnection conn;
    private final QuicStream stream;
    private final QuicConnectionState state;
    private final SessionTicketStore tickets;
    private final String ticketKey;
    private final boolean zeroRtt;
    private final InputStream in;
    private volatile int ticketsSaved;
    private volatile boolean closed;

    QuicTransport(QuicClientConnection conn, QuicStream stream, QuicConnectionState state,
            SessionTicketStore tickets, String ticketKey) {
        this.conn = conn;
        this.stream = stream;
        this.state = state;
        this.tickets = tickets;
        this.ticketKey = ticketKey;
        this.zeroRtt = QuicImplAccess.isEarlyDataAccepted(conn);
        // Kwik has no callback for a new session ticket; the edge sends its tickets right after the handshake, so
        // looking after each read (the first being AuthOK) saves them as soon as the client has anything to show
        // for the connection. Once one is saved, reads stop looking: close() saves any newer one.
        this.in = new FilterInputStream(stream.getInputStream()) {
            @Override
            public int read() throws IOException {
                int b = super.read();
                if (ticketsSaved == 0) {
                    saveNewTickets();
                }
                return b;
            }

            @Override
            public int read(byte[] buf, int off, int len) throws IOException {
                int n = super.read(buf, off, len);
                if (ticketsSaved == 0) {
                    saveNewTickets();
                }
                return n;
            }
        };
    }

    void saveNewTickets() {
        if (closed) {
            return;
        }
        try {
            ticketsSaved = QuicDialer.saveTickets(conn, tickets, ticketKey, ticketsSaved);
        } catch (RuntimeException e) {
            // A store that fails costs the next connection its 0-RTT, not this connection.
        }
    }

    @Override
    public InputStream in() {
        return in;
    }

    @Override
    public OutputStream out() {
        return stream.getOutputStream();
    }

    @Override
    public String kind() {
        return "quic";
    }

    @Override
    public boolean usedZeroRtt() {
        return zeroRtt;
    }

    @Override
    public OptionalInt closeCode() {
        return state.closeCode();
    }

    @Override
    public boolean canMigrate() {
        return true;
    }

    @Override
    public void migrate() throws IOException {
        if (closed || !conn.isConnected()) {
            throw new IOException("quic connection is closed; cannot migrate");
        }
        // Kwik opens a new UDP socket (a new local port) and sends from it with the same connection ID; the edge
        // sees a rebinding and validates the new path. (Kwik logs a failure to open the socket instead of throwing,
        // and its getLocalAddress() keeps reporting the first socket, so there is nothing to check here.)
        QuicImplAccess.changeAddress(conn);
        // Something to send on the new path at once, so the edge learns it without waiting for the next frame.
        QuicImplAccess.ping(conn);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        saveNewTickets();
        closed = true;
        conn.close();
    }
}
