package edge

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"github.com/pires/go-proxyproto"

	"github.com/quicpush/quicpush/wire"
)

// listenTCP binds the TCP port that serves framed TCP, TLS and WebSocket.
func (e *Edge) listenTCP() error {
	ln, err := net.Listen("tcp", e.cfg.TCPAddr)
	if err != nil {
		return err
	}
	if len(e.cfg.ProxyProtocolFrom) > 0 {
		trusted := e.cfg.ProxyProtocolFrom
		ln = &proxyproto.Listener{
			Listener: ln,
			// From a trusted load balancer the header is required; from
			// anyone else it is not looked for, so a client cannot claim
			// another address.
			ConnPolicy: func(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
				if ip, ok := ipOf(o.Upstream); ok {
					for _, p := range trusted {
						if p.Contains(ip) {
							return proxyproto.REQUIRE, nil
						}
					}
				}
				return proxyproto.SKIP, nil
			},
			ReadHeaderTimeout: e.cfg.HandshakeTimeout,
		}
	}
	e.tcpLn = ln
	e.loops.Add(1)
	go e.acceptTCP()
	return nil
}

func (e *Edge) acceptTCP() {
	defer e.loops.Done()
	var delay time.Duration
	for {
		conn, err := e.tcpLn.Accept()
		if err != nil {
			if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors or similar: back off, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return
		}
		delay = 0
		e.live.Add(1)
		go e.admitTCP(conn)
	}
}

// admitTCP applies the per-IP limits, on the connection's own goroutine: with
// the PROXY protocol, learning the client's address means reading the header,
// which must not hold up the accept loop.
func (e *Edge) admitTCP(conn net.Conn) {
	release, ok := e.guard.admit(conn.RemoteAddr(), "tcp")
	if !ok {
		// No protocol is known yet, so no frame can say why.
		_ = conn.Close()
		e.live.Done()
		return
	}
	e.serveTCP(&countedConn{Conn: conn, release: release})
}

// countedConn uncounts itself from the per-IP limits when closed, whichever
// path closes it.
type countedConn struct {
	net.Conn
	release func()
}

func (c *countedConn) Close() error {
	c.release()
	return c.Conn.Close()
}

// serveTCP tells the protocols on the TCP port apart by their first byte: a
// TLS handshake record (0x16) is unwrapped and sniffed again, "G" starts a
// WebSocket upgrade ("GET "), anything else is a framed stream (whose first
// length byte is 0 for every frame under 16 MiB).
func (e *Edge) serveTCP(conn net.Conn) {
	defer e.live.Done()
	deadline := time.Now().Add(e.cfg.HandshakeTimeout)
	_ = conn.SetDeadline(deadline)
	pc := &peekConn{Conn: conn}
	first, err := pc.peek()
	if err != nil {
		e.metrics.handshakeFailures.WithLabelValues("tcp").Inc()
		_ = conn.Close()
		return
	}
	var c net.Conn = pc
	secure := false
	if first == 0x16 {
		tc := tls.Server(pc, e.cfg.TLS)
		if err := tc.Handshake(); err != nil {
			e.metrics.handshakeFailures.WithLabelValues("tls").Inc()
			_ = conn.Close()
			return
		}
		pc = &peekConn{Conn: tc}
		if first, err = pc.peek(); err != nil {
			_ = tc.Close()
			return
		}
		c, secure = pc, true
	}
	if first == 'G' {
		e.serveWebSocket(c, secure, deadline)
		return
	}
	// The session sets its own read deadlines from here on.
	_ = c.SetWriteDeadline(time.Time{})
	t := &tcpTransport{conn: c, raw: conn, secure: secure, fr: wire.NewFrameReader(c, e.cfg.MaxFrame)}
	newSession(e, t, deadline).serve()
}

// peekConn hands back one sniffed byte before reading on.
type peekConn struct {
	net.Conn
	b    [1]byte
	have bool
}

func (c *peekConn) peek() (byte, error) {
	if _, err := io.ReadFull(c.Conn, c.b[:]); err != nil {
		return 0, err
	}
	c.have = true
	return c.b[0], nil
}

func (c *peekConn) Read(p []byte) (int, error) {
	if c.have && len(p) > 0 {
		c.have = false
		p[0] = c.b[0]
		return 1, nil
	}
	return c.Conn.Read(p)
}

// tcpTransport carries a session as a plain frame stream over TCP or TLS.
type tcpTransport struct {
	conn   net.Conn // what frames are read from and written to
	raw    net.Conn // the TCP connection under any TLS
	secure bool
	fr     *wire.FrameReader
	bufs   net.Buffers
	// rest is what a failed plain write left unwritten (see finishBatch).
	rest [][]byte
}

func (t *tcpTransport) readFrame() (wire.Header, []byte, error) { return t.fr.ReadFrame() }
func (t *tcpTransport) releaseRead()                            { t.fr.Release() }
func (t *tcpTransport) setMaxFrame(n int)                       { t.fr.SetMaxFrame(n) }
func (t *tcpTransport) rawReader() io.Reader                    { return t.conn }
func (t *tcpTransport) setReadDeadline(d time.Time) error       { return t.conn.SetReadDeadline(d) }
func (t *tcpTransport) setWriteDeadline(d time.Time) error      { return t.conn.SetWriteDeadline(d) }
func (t *tcpTransport) remoteAddr() net.Addr                    { return t.raw.RemoteAddr() }

func (t *tcpTransport) kind() string {
	if t.secure {
		return "tls"
	}
	return "tcp"
}

// writeBatch writes the whole batch with one writev on plain TCP. TLS would
// turn each buffer into its own record, so there the batch is gathered first.
func (t *tcpTransport) writeBatch(bufs [][]byte) error {
	if t.secure {
		return writeCoalesced(t.conn.Write, bufs)
	}
	t.bufs = bufs
	_, err := t.bufs.WriteTo(rawConn(t.conn))
	if err != nil {
		// WriteTo consumed what it wrote: the rest of a frame broken off
		// and the frames after it are left, in bufs (which the caller
		// reuses, hence the copy).
		t.rest = append(t.rest[:0], t.bufs...)
	}
	t.bufs = nil
	return err
}

// finishBatch writes what the last failed write left unwritten, the rest of
// a frame broken off included, then bufs. TLS cannot go on after a failed
// write (a record cut short breaks the stream), so there it fails at once.
func (t *tcpTransport) finishBatch(bufs [][]byte) error {
	if t.secure {
		return os.ErrDeadlineExceeded
	}
	t.rest = append(t.rest, bufs...)
	last := t.rest
	t.rest = nil
	return t.writeBatch(last)
}

// rawConn returns the connection under the edge's wrappers (the sniffing
// peek, the per-IP count, the PROXY protocol header), which is what writes
// must go to: only the bare *net.TCPConn turns net.Buffers into one writev.
// Through a wrapper Go writes buffer by buffer, one syscall each, and a
// WebSocket pong written by the reader meanwhile would land inside a
// message. Reads keep going through the wrappers, which may hold bytes.
func rawConn(c net.Conn) net.Conn {
	for {
		switch v := c.(type) {
		case *peekConn:
			c = v.Conn
		case *countedConn:
			c = v.Conn
		case *proxyproto.Conn:
			c = v.Raw()
		default:
			return c
		}
	}
}

func (t *tcpTransport) closeWrite(wire.Code, string) { closeWrite(t.conn) }
func (t *tcpTransport) close(wire.Code, string)      { _ = t.conn.Close() }

// closeWrite half-closes a connection so the client reads everything sent and
// sees EOF, where a full close with unread input would reset it.
func closeWrite(c net.Conn) {
	type writeCloser interface{ CloseWrite() error }
	for {
		switch v := c.(type) {
		// Every wrapper must be looked through: the per-IP count wraps
		// every TCP connection, and a wrapper hides CloseWrite, which left
		// plain TCP without its FIN until the close grace period ended.
		case *peekConn:
			c = v.Conn
			continue
		case *countedConn:
			c = v.Conn
			continue
		case *proxyproto.Conn:
			c = v.Raw()
			continue
		case *tls.Conn:
			// Sends close_notify; the TCP connection under it is half-closed next.
			_ = v.CloseWrite()
			c = v.NetConn()
			continue
		case writeCloser:
			_ = v.CloseWrite()
		}
		return
	}
}
