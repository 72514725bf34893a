package io.github.quicpush.client;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.SocketException;

/**
 * The UDP socket a Kwik connection sends from, on an ephemeral port of every interface (as Kwik's own default).
 *
 * <p>It differs in one thing: a send on a socket that has been closed is dropped instead of failing. Kwik's
 * {@code changeAddress()} (the client's {@code migrate()}) closes the old socket while its sender thread may be in
 * the middle of a send on it; the send then fails with "Socket closed" and Kwik aborts the whole connection (seen
 * about once in twenty test runs of five moves). A packet dropped there is a packet lost on the old path, which
 * QUIC's loss recovery sends again on the new one.
 */
final class QuicSocket extends DatagramSocket {

    QuicSocket() throws SocketException {
        super();
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
