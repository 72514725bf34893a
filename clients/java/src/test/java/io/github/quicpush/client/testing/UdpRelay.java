package io.github.quicpush.client.testing;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A loopback UDP relay in front of an edge's QUIC port. Each client address gets its own socket towards the edge
 * (as a NAT would). {@link #blackhole(boolean)} drops every datagram both ways, which is what a QUIC client sees
 * when its network goes away: silence, not an error.
 */
public final class UdpRelay implements AutoCloseable {
    private final DatagramSocket front;
    private final InetSocketAddress edge;
    private final Map<SocketAddress, DatagramSocket> back = new ConcurrentHashMap<>();
    private volatile boolean blackhole;

    public UdpRelay(int edgePort) throws IOException {
        this.edge = new InetSocketAddress(InetAddress.getLoopbackAddress(), edgePort);
        this.front = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        Thread t = new Thread(this::forward, "udp-relay");
        t.setDaemon(true);
        t.start();
    }

    public int port() {
        return front.getLocalPort();
    }

    /** While on, every datagram is dropped, both ways. */
    public void blackhole(boolean on) {
        blackhole = on;
    }

    /**
     * A NAT rebinding: every client's traffic leaves from a new source port from now on, and what the edge sends to
     * the old port is lost. The client is not told.
     */
    public void rebind() {
        for (SocketAddress client : back.keySet()) {
            DatagramSocket old = back.remove(client);
            if (old != null) {
                old.close();
            }
        }
    }

    private void forward() {
        byte[] buf = new byte[65535];
        while (!front.isClosed()) {
            try {
                DatagramPacket p = new DatagramPacket(buf, buf.length);
                front.receive(p);
                if (blackhole) {
                    continue;
                }
                SocketAddress client = p.getSocketAddress();
                DatagramSocket s = back.computeIfAbsent(client, this::open);
                s.send(new DatagramPacket(p.getData(), p.getOffset(), p.getLength(), edge));
            } catch (IOException | RuntimeException e) {
                // closed, or one datagram failed
            }
        }
    }

    private DatagramSocket open(SocketAddress client) {
        try {
            DatagramSocket s = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            Thread t = new Thread(() -> {
                byte[] buf = new byte[65535];
                while (!s.isClosed()) {
                    try {
                        DatagramPacket p = new DatagramPacket(buf, buf.length);
                        s.receive(p);
                        if (!blackhole) {
                            front.send(new DatagramPacket(p.getData(), p.getOffset(), p.getLength(), client));
                        }
                    } catch (IOException e) {
                        // closed
                    }
                }
            }, "udp-relay-back");
            t.setDaemon(true);
            t.start();
            return s;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        front.close();
        back.values().forEach(DatagramSocket::close);
    }
}
