package edge

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/quic-go/webtransport-go"

	"github.com/quicpush/quicpush/wire"
)

// errLimited refuses a QUIC connection over a per-IP limit.
var errLimited = errors.New("edge: connection limit")

// errStreamReset is a client resetting the stream that carries its session:
// not a way to leave (that is FIN between frames, or closing the
// connection), so it is a protocol error.
var errStreamReset = errors.New("edge: stream reset by the client")

// listenQUIC binds one UDP socket and one quic.Transport for raw QUIC and
// WebTransport: both share the port and are told apart by ALPN.
func (e *Edge) listenQUIC() error {
	addr, err := net.ResolveUDPAddr("udp", e.cfg.QUICAddr)
	if err != nil {
		return err
	}
	e.udp, err = net.ListenUDP("udp", addr)
	if err != nil {
		return err
	}
	e.qtr = &quic.Transport{
		Conn:                e.udp,
		VerifySourceAddress: e.guard.verifySource,
		// Before the handshake: a refused source costs no TLS work.
		ConnContext: func(ctx context.Context, info *quic.ClientInfo) (context.Context, error) {
			release, ok := e.guard.admit(info.RemoteAddr, "quic")
			if !ok {
				return ctx, errLimited
			}
			context.AfterFunc(ctx, release)
			return context.WithValue(ctx, quicStartKey{}, &quicStart{at: time.Now()}), nil
		},
	}
	tlsConf := e.cfg.TLS.Clone()
	tlsConf.NextProtos = []string{http3.NextProtoH3, wire.ALPN}
	e.qln, err = e.qtr.ListenEarly(tlsConf, e.quicConfig())
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc(e.cfg.WebTransportPath, e.serveWebTransport)
	e.wt = &webtransport.Server{
		H3: &http3.Server{
			Handler: mux,
			ConnContext: func(ctx context.Context, c *quic.Conn) context.Context {
				return context.WithValue(ctx, quicConnKey{}, c)
			},
		},
		CheckOrigin: func(r *http.Request) bool { return e.cfg.CheckOrigin(r.Header.Get("Origin")) },
	}
	e.loops.Add(quicAcceptors)
	for range quicAcceptors {
		go e.acceptQUIC()
	}
	return nil
}

func (e *Edge) quicConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout: e.cfg.HandshakeTimeout,
		// Clients ping at the protocol level; the QUIC idle timeout only
		// reaps connections whose peer vanished without a word.
		MaxIdleTimeout: 3 * e.cfg.PingInterval,
		// WebTransport needs both; raw QUIC ignores them.
		EnableDatagrams:                  true,
		EnableStreamResetPartialDelivery: true,
		// Clients send little: small receive windows keep idle memory low.
		InitialStreamReceiveWindow:     64 << 10,
		InitialConnectionReceiveWindow: 128 << 10,
		MaxIncomingStreams:             16,
		MaxIncomingUniStreams:          16,
		// A resumed client's Auth and Joins arrive with its first packet,
		// and its missed pushes leave a round trip sooner; sessions serve
		// only replay-safe frames until the handshake completes (zerortt.go).
		Allow0RTT: !e.cfg.Disable0RTT,
	}
}

// quicAcceptors is how many goroutines wait in Accept. quic-go queues
// connections for Accept in a queue of 32 it does not let us size
// (protocol.MaxAcceptQueueSize), and refuses (CONNECTION_REFUSED) one that
// becomes ready while the queue is full. A connection sent to the queue
// while a goroutine is parked in Accept goes straight to that goroutine and
// takes no place in the queue, so each one parked is one more connection the
// edge takes at once, however long the scheduler leaves the others waiting
// behind the hundreds of goroutines a handshake storm makes runnable on a
// server pinned to one core. They cost a few KiB of stack each, once per
// edge.
const quicAcceptors = 256

// acceptQUIC hands each connection to a goroutine of its own at once, to be
// back in Accept soon. It does not ask the ALPN: from ListenEarly a
// connection comes as soon as its ClientHello is processed, and
// ConnectionState waits for the TLS handshake to end (it takes crypto/tls's
// handshake lock). Asked here, it held the loop for a whole handshake per
// connection while the queue filled, and dials were refused with 200
// handshakes in flight.
func (e *Edge) acceptQUIC() {
	defer e.loops.Done()
	for {
		conn, err := e.qln.Accept(e.ctx)
		if err != nil {
			return
		}
		e.live.Add(1)
		go e.dispatchQUIC(conn)
	}
}

// dispatchQUIC serves conn by its ALPN: a raw QUIC session, or HTTP/3 for
// WebTransport. It counts in live until it knows which (an HTTP/3
// connection counts only while it has a session, in serveWebTransport).
func (e *Edge) dispatchQUIC(conn *quic.Conn) {
	alpn := conn.ConnectionState().TLS.NegotiatedProtocol
	if alpn == wire.ALPN {
		e.serveQUIC(conn)
		return
	}
	e.live.Done()
	switch alpn {
	case http3.NextProtoH3:
		e.bindH3Handshake(conn)
		if err := e.wt.ServeQUICConn(conn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.cfg.Logger.Debug("webtransport connection ended", "err", err)
		}
	default:
		_ = conn.CloseWithError(quic.ApplicationErrorCode(wire.CodeProtocolError), "unknown ALPN")
	}
}

// serveQUIC waits for the client's single bidirectional stream and runs the
// session on it.
func (e *Edge) serveQUIC(conn *quic.Conn) {
	defer e.live.Done()
	deadline := startOf(conn).at.Add(e.cfg.HandshakeTimeout)
	ctx, cancel := context.WithDeadline(e.ctx, deadline)
	str, err := conn.AcceptStream(ctx)
	cancel()
	if err != nil {
		e.metrics.handshakeFailures.WithLabelValues("quic").Inc()
		_ = conn.CloseWithError(quic.ApplicationErrorCode(wire.CodeHandshakeTimeout), "no stream opened")
		return
	}
	t := &quicTransport{conn: conn, str: str, fr: wire.NewFrameReader(str, e.cfg.MaxFrame), closeTimeout: e.cfg.CloseTimeout}
	t.watchPath(e.metrics.migrations.WithLabelValues("quic"), e.cfg.Logger)
	newSession(e, t, deadline).serve()
}

// quicStream is what raw QUIC and WebTransport streams have in common.
type quicStream interface {
	io.ReadWriteCloser
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// quicTransport carries a session over one QUIC stream. It also serves
// WebTransport, whose sessions differ only in how they close.
type quicTransport struct {
	conn         *quic.Conn
	wt           *webtransport.Session // nil for raw QUIC
	str          quicStream
	fr           *wire.FrameReader
	closeTimeout time.Duration

	// addr is the client's address as last seen, to notice migrations.
	addr       atomic.Pointer[net.UDPAddr]
	migrations prometheus.Counter
	log        *slog.Logger
}

// watchPath starts noticing the client's moves. quic-go validates a new
// client address and moves the connection to it on its own (connection
// migration: a NAT rebinding, or the client switching networks); the session
// carries on untouched, so the edge only counts the move, from the address
// the connection reports, at the next frame read or write.
func (t *quicTransport) watchPath(migrations prometheus.Counter, log *slog.Logger) {
	t.migrations, t.log = migrations, log
	a, _ := t.conn.RemoteAddr().(*net.UDPAddr)
	t.addr.Store(a)
}

// notePath counts a migration if the client's address changed. quic-go swaps
// the address (a pointer) only when it changes, so this is one atomic load
// and a comparison per call.
func (t *quicTransport) notePath() {
	a, _ := t.conn.RemoteAddr().(*net.UDPAddr)
	old := t.addr.Load()
	if a == old || a == nil || !t.addr.CompareAndSwap(old, a) {
		return
	}
	t.migrations.Inc()
	t.log.Debug("quic connection migrated", "from", old, "to", a)
}

func (t *quicTransport) readFrame() (wire.Header, []byte, error) {
	h, body, err := t.fr.ReadFrame()
	t.notePath()
	if err != nil {
		var se *quic.StreamError
		var we *webtransport.StreamError
		if (errors.As(err, &se) && se.Remote) || (errors.As(err, &we) && we.Remote) {
			err = errStreamReset
		}
	}
	return h, body, err
}

func (t *quicTransport) releaseRead()                       { t.fr.Release() }
func (t *quicTransport) setMaxFrame(n int)                  { t.fr.SetMaxFrame(n) }
func (t *quicTransport) rawReader() io.Reader               { return t.str }
func (t *quicTransport) setReadDeadline(d time.Time) error  { return t.str.SetReadDeadline(d) }
func (t *quicTransport) setWriteDeadline(d time.Time) error { return t.str.SetWriteDeadline(d) }
func (t *quicTransport) remoteAddr() net.Addr               { return t.conn.RemoteAddr() }

func (t *quicTransport) kind() string {
	if t.wt != nil {
		return "webtransport"
	}
	return "quic"
}

// writeBatch gathers the batch into one stream write: quic-go packs a single
// write into full packets, where many small writes would each wait their turn.
func (t *quicTransport) writeBatch(bufs [][]byte) error {
	t.notePath()
	return writeCoalesced(t.str.Write, bufs)
}

// datagrams reports whether the peer accepts datagrams: always on
// WebTransport, which needs them; on raw QUIC when the client enabled them.
func (t *quicTransport) datagrams() bool {
	return t.wt != nil || t.conn.ConnectionState().SupportsDatagrams.Remote
}

// sendDatagram sends b in one datagram (datagram.go); it blocks while the
// connection's datagram queue is full.
func (t *quicTransport) sendDatagram(b []byte) error {
	if t.wt != nil {
		return t.wt.SendDatagram(b)
	}
	return t.conn.SendDatagram(b)
}

// closeWrite sends FIN after the last frame; the client closes the
// connection when it has read the Disconnect frame.
func (t *quicTransport) closeWrite(wire.Code, string) { _ = t.str.Close() }

// close ends the connection with code as the QUIC application error (or the
// WebTransport session error). It first gives the client a moment to read
// what was sent, since a CONNECTION_CLOSE discards data still in flight.
func (t *quicTransport) close(code wire.Code, reason string) {
	if t.wt != nil {
		_ = t.wt.CloseWithError(webtransport.SessionErrorCode(code), reason)
	}
	go func() {
		select {
		case <-t.conn.Context().Done():
		case <-time.After(t.closeTimeout):
		}
		_ = t.conn.CloseWithError(quic.ApplicationErrorCode(code), reason)
	}()
}

// closeNow closes a raw QUIC connection with code without the grace of
// close: for Edge.Close, which closes the QUIC transport right after. It
// returns once the CONNECTION_CLOSE is sent.
func (t *quicTransport) closeNow(code wire.Code) {
	_ = t.conn.CloseWithError(quic.ApplicationErrorCode(code), code.String())
}

// serveWebTransport upgrades an HTTP/3 CONNECT request to a WebTransport
// session, waits for the client's bidirectional stream and runs the session.
func (e *Edge) serveWebTransport(w http.ResponseWriter, r *http.Request) {
	e.live.Add(1)
	defer e.live.Done()
	if e.hub.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	conn, _ := r.Context().Value(quicConnKey{}).(*quic.Conn)
	if !e.cfg.CheckOrigin(r.Header.Get("Origin")) {
		// Checked here too: a refused Upgrade writes no status, and an
		// HTTP handler that writes none answers 200.
		e.metrics.handshakeFailures.WithLabelValues("webtransport").Inc()
		w.WriteHeader(http.StatusForbidden)
		return
	}
	sess, err := e.wt.Upgrade(w, r)
	if err != nil {
		e.metrics.handshakeFailures.WithLabelValues("webtransport").Inc()
		e.cfg.Logger.Debug("webtransport upgrade failed", "err", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	start := startOf(conn)
	deadline := start.at.Add(e.cfg.HandshakeTimeout)
	ctx, cancel := context.WithDeadline(e.ctx, deadline)
	str, err := sess.AcceptStream(ctx)
	cancel()
	if err != nil {
		e.metrics.handshakeFailures.WithLabelValues("webtransport").Inc()
		_ = sess.CloseWithError(webtransport.SessionErrorCode(wire.CodeHandshakeTimeout), "no stream opened")
		return
	}
	t := &quicTransport{conn: conn, wt: sess, str: str, fr: wire.NewFrameReader(str, e.cfg.MaxFrame), closeTimeout: e.cfg.CloseTimeout}
	t.watchPath(e.metrics.migrations.WithLabelValues("webtransport"), e.cfg.Logger)
	if newSession(e, t, deadline).serve() {
		start.authed.Store(true)
	}
}

// quicStart is when a QUIC connection's first packet arrived, from which its
// handshake budget counts, and whether a session on it passed Auth.
type quicStart struct {
	at     time.Time
	authed atomic.Bool
}

// quicStartKey finds a connection's quicStart in its context.
type quicStartKey struct{}

// startOf returns conn's quicStart (a fresh one counting from now if the
// connection came without one).
func startOf(conn *quic.Conn) *quicStart {
	if conn != nil {
		if st, ok := conn.Context().Value(quicStartKey{}).(*quicStart); ok {
			return st
		}
	}
	return &quicStart{at: time.Now()}
}

// bindH3Handshake extends the handshake budget to HTTP/3 connections, where
// the session's own timeout starts only with a CONNECT request: a connection
// with no session past Auth by the deadline (one that opened and said
// nothing, or whose requests all failed) is closed with 3005.
func (e *Edge) bindH3Handshake(conn *quic.Conn) {
	start := startOf(conn)
	timer := time.AfterFunc(time.Until(start.at.Add(e.cfg.HandshakeTimeout)), func() {
		if start.authed.Load() {
			return
		}
		e.metrics.handshakeFailures.WithLabelValues("webtransport").Inc()
		_ = conn.CloseWithError(quic.ApplicationErrorCode(wire.CodeHandshakeTimeout), "no session established")
	})
	context.AfterFunc(conn.Context(), func() { timer.Stop() })
}

// quicConnKey finds a WebTransport request's QUIC connection in its context.
type quicConnKey struct{}
