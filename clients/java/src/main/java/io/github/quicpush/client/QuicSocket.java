package io.github.quicpush.client;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.SocketException;

/**
 * The UDP socket a Kwik connection sends from, on an ephemeral port of every interface (as Kwik's own default).
 *
 * <p>It differs in two things. First, a send on a socket that has been closed is dropped instead of failing.
 * Kwik's {@code changeAddress()} (the client's {@code migrate()}) closes the old socket while its sender thread may
 * be in the middle of a send on it; the send then fails with "Socket closed" and Kwik aborts the whole connection
 * (seen about once in twenty test runs of five moves). A packet dropped there is a packet lost on the old path,
 * which QUIC's loss recovery sends again on the new one.
 *
 * <p>Second, the first datagram the socket receives is handed to Kwik 3 ms late. Kwik 0.10.8 has a race in its
 * handshake: when the edge's first flight is read before the dialing thread has finished recording its
 * ClientHello, the handshake keys are never installed and the handshake stalls for good. A server that answers
 * within microseconds (loopback, a nearby edge) triggered it in about one dial in ten (16 of 200 measured by
 * ConnectTimeBench); with the delay, none of 500. On a real path the answer takes a round trip anyway, so the
 * delay costs 3 ms once per connection and only where the race could bite.
 */
final class QuicSocket extends DatagramSocket {

    QuicSocket() throws SocketException {
        super();
    }

    /** Only Kwik's receiver thread reads it. */
    private boolean first = true;

    @Override
    public void receive(DatagramPacket p) throws IOException {
        super.receive(p);
        if (first) {
            first = false;
            try {
                Thread.sleep(3);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public void send(DatagramPacket p) throws IOException {
        try {
            super.send(p);
        } catch (SocketException e) {
            if (isClosed()) {
                return;
            }
            throw e;
        }
    }
}
