package frameconn

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"

	"github.com/quicpush/quicpush/wire"
)

// Transport names, as Conn.Transport reports them.
const (
	TransportQUIC         = "quic"
	TransportWebTransport = "webtransport"
	TransportTCP          = "tcp"
	TransportTLS          = "tls"
	TransportWS           = "ws"
	TransportWSS          = "wss"
)

// DefaultReadBufferSize is the read buffer of TCP, TLS and WebSocket
// connections when Options.ReadBufferSize is zero: pushes arrive back to back,
// and a buffer turns two reads per frame into one per batch.
const DefaultReadBufferSize = 4 << 10

// Options configure a dial. The zero value dials with the defaults each field
// documents.
type Options struct {
	// TLS is the base TLS configuration of QUIC, WebTransport, TLS and wss
	// dials, cloned per dial: its ServerName defaults to the dialled host and
	// its NextProtos are set by the transport (quicpush/1 for QUIC, h3 for
	// WebTransport, none for TLS and wss). Nil means a zero tls.Config.
	TLS *tls.Config
	// MaxFrame is the largest frame accepted from the server, header
	// included; a larger one fails ReadFrame with wire.ErrTooLarge. Zero
	// means wire.DefaultMaxFrame.
	MaxFrame int
	// WriteTimeout bounds every WriteFrame, and the replies to the server's
	// WebSocket pings and close. Zero means no timeout of its own; deadlines
	// set with SetWriteDeadline then apply.
	WriteTimeout time.Duration
	// ReadBufferSize sizes the buffer between the connection and the frame
	// reader. Zero means DefaultReadBufferSize on TCP, TLS and WebSocket and
	// none on QUIC and WebTransport, whose streams buffer already; negative
	// means none, except on WebSocket, which always reads through a buffer
	// (of DefaultReadBufferSize then).
	ReadBufferSize int
	// QUICTransport, when set, is the socket QUIC and WebTransport
	// connections are dialled on, so that many connections share one UDP
	// socket. Nil means a socket of their own per connection.
	QUICTransport *quic.Transport
	// Early makes raw QUIC dials early (quic.DialEarly): the Conn is
	// returned before the handshake completes and, when TLS holds a
	// session ticket of the server (TLS.ClientSessionCache) and the server
	// allows it, the first frames travel as 0-RTT data, one round trip
	// sooner. A server that rejects 0-RTT discards them: writes and reads
	// then fail with quic.Err0RTTRejected (errors.Is) and Conn.Retry0RTT
	// carries on with the completed handshake. False dials as usual, and
	// the Conn comes once the handshake is done.
	Early bool
	// QUICConfig configures QUIC and WebTransport connections. Nil means
	// quic-go's defaults. WebTransport dials a copy with datagrams and
	// partial delivery of reset streams enabled, as it requires.
	QUICConfig *quic.Config
	// NetDial dials the TCP connection of TCP, TLS and WebSocket dials, for
	// example from a chosen source address. Nil means net.Dialer's
	// DialContext.
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// ReadCounter, when set, counts the reads that returned data: reads of
	// the connection or stream, or on WebSocket data messages. See
	// Conn.CountReads.
	ReadCounter *atomic.Int64
}

// readBuffer returns the size of the read buffer of a transport whose default
// is def, zero meaning none.
func (o *Options) readBuffer(def int) int {
	switch {
	case o.ReadBufferSize > 0:
		return o.ReadBufferSize
	case o.ReadBufferSize < 0:
		return 0
	}
	return def
}

// tlsFor returns the TLS configuration of one dial of host, speaking alpn if
// not empty.
func (o *Options) tlsFor(host, alpn string) *tls.Config {
	var cfg *tls.Config
	if o.TLS != nil {
		cfg = o.TLS.Clone()
	} else {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	cfg.NextProtos = nil
	if alpn != "" {
		cfg.NextProtos = []string{alpn}
	}
	if cfg.ClientSessionCache != nil {
		cfg.ClientSessionCache = protoSessionCache{cfg.ClientSessionCache, alpn}
	}
	return cfg
}

// protoSessionCache keeps the session tickets of each protocol (QUIC,
// WebTransport, TLS and wss) apart in a cache shared by all: crypto/tls keys
// tickets by server name only, so a QUIC dial and a TLS dial of one host
// would replace each other's ticket, and a ticket resumes (and carries
// 0-RTT) only on the protocol that got it.
type protoSessionCache struct {
	cache tls.ClientSessionCache
	alpn  string // "" for TLS and wss
}

func (c protoSessionCache) Get(key string) (*tls.ClientSessionState, bool) {
	return c.cache.Get(c.alpn + "|" + key)
}

func (c protoSessionCache) Put(key string, cs *tls.ClientSessionState) {
	c.cache.Put(c.alpn+"|"+key, cs)
}

func (o *Options) netDial(ctx context.Context, addr string) (net.Conn, error) {
	if o.NetDial != nil {
		return o.NetDial(ctx, "tcp", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// stream is what frames travel on: a QUIC or WebTransport stream, or a TCP or
// TLS connection.
type stream interface {
	io.ReadWriter
	SetDeadline(t time.Time) error
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// ender is the part of a transport that differs between them: closing the
// connection with a code and recognizing the server's close in an error.
type ender interface {
	close(code wire.Code, reason string) error
	err(err error) error
}

// Conn is one connection to an edge carrying frames. ReadFrame is called
// from one goroutine at a time and WriteFrame likewise; the two may run
// concurrently, and Close and the deadline setters may be called at any time.
type Conn struct {
	transport    string
	str          stream
	fr           *wire.FrameReader
	counted      countingReader // below the read buffer, if any
	end          ender
	ws           *wsConn               // the WebSocket framing; nil on the other transports
	qconn        *quic.Conn            // raw QUIC only
	path         *quic.Path            // the last path MovePath moved qconn to
	wtSess       *webtransport.Session // WebTransport only
	writeTimeout time.Duration
	bufSize      int // of the read buffer, none if zero
	maxFrame     int
	once         sync.Once
	closeErr     error
}

// newConn returns a Conn reading frames from str through a buffer of
// bufSize bytes (none if zero).
func newConn(transport string, str stream, end ender, o *Options, bufSize int) *Conn {
	c := &Conn{transport: transport, end: end, writeTimeout: o.WriteTimeout, bufSize: bufSize, maxFrame: o.MaxFrame}
	c.counted.n = o.ReadCounter
	c.attach(str)
	return c
}

// attach makes str the stream frames are read from and written to.
func (c *Conn) attach(str stream) {
	c.str = str
	c.counted.r = str
	var r io.Reader = &c.counted
	if c.bufSize > 0 {
		r = bufio.NewReaderSize(r, c.bufSize)
	}
	c.fr = wire.NewFrameReader(r, c.maxFrame)
}

// Transport returns the transport's name: TransportQUIC,
// TransportWebTransport, TransportTCP, TransportTLS, TransportWS or
// TransportWSS.
func (c *Conn) Transport() string { return c.transport }

// QUIC returns the QUIC connection of a raw QUIC Conn, nil on the other
// transports: for what lives beside the stream (its TLS and 0-RTT state, its
// network paths, its datagrams).
func (c *Conn) QUIC() *quic.Conn { return c.qconn }

// TLS returns the TLS state of a raw QUIC, TLS or wss Conn (whether it
// resumed a session, say), and false on the other transports.
func (c *Conn) TLS() (tls.ConnectionState, bool) {
	if c.qconn != nil {
		return c.qconn.ConnectionState().TLS, true
	}
	if tc, ok := c.str.(*tls.Conn); ok {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// Used0RTT reports whether the server accepted the 0-RTT data of an early
// raw QUIC dial: see Options.Early.
func (c *Conn) Used0RTT() bool {
	return c.qconn != nil && c.qconn.ConnectionState().Used0RTT
}

// WebTransport returns the session of a WebTransport Conn, nil on the other
// transports: for its datagrams.
func (c *Conn) WebTransport() *webtransport.Session { return c.wtSess }

// WriteFrame writes b, normally one or more whole frames, as given: on
// WebSocket it is one binary message. Tests use it to send malformed input.
func (c *Conn) WriteFrame(b []byte) error {
	if c.ws != nil {
		return c.ws.writeMessage(b)
	}
	if c.writeTimeout > 0 {
		_ = c.str.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	}
	_, err := c.str.Write(b)
	if err != nil {
		return c.end.err(err)
	}
	return nil
}

// ReadFrame returns the next frame from the server. The body is valid until
// the next call. io.EOF means the server ended the connection cleanly between
// frames; *CloseError that it closed it with a code.
func (c *Conn) ReadFrame() (wire.Header, []byte, error) {
	if c.ws != nil {
		return c.ws.readFrame(c.fr)
	}
	h, body, err := c.fr.ReadFrame()
	if err != nil {
		return h, nil, c.end.err(err)
	}
	return h, body, nil
}

// SetDeadline sets the read and write deadlines; the zero time clears them.
func (c *Conn) SetDeadline(t time.Time) error { return c.str.SetDeadline(t) }

// SetReadDeadline sets the read deadline; the zero time clears it.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.str.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline; the zero time clears it. With
// Options.WriteTimeout set, every write replaces it.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.str.SetWriteDeadline(t) }

// Close closes the connection, unblocking ReadFrame and WriteFrame. A
// transport that carries a close code sends code (0: no error) and reason:
// QUIC, WebTransport and WebSocket do, TCP does not. Calls after the first
// do nothing and return its error.
func (c *Conn) Close(code wire.Code, reason string) error {
	c.once.Do(func() { c.closeErr = c.end.close(code, reason) })
	return c.closeErr
}

// CountReads makes the connection count into n, from its next read on, the
// reads that returned data (on WebSocket, the data messages); nil stops
// counting. It must not run concurrently with ReadFrame.
func (c *Conn) CountReads(n *atomic.Int64) {
	c.counted.n = n
	if c.ws != nil {
		c.ws.msgs = n
	}
}

// countingReader counts the reads that return data.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 && c.n != nil {
		c.n.Add(1)
	}
	return n, err
}
