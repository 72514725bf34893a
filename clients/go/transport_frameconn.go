package quicpush

import (
	"context"
	"errors"

	"github.com/quic-go/quic-go"

	"github.com/quicpush/quicpush/internal/frameconn"
	"github.com/quicpush/quicpush/wire"
)

// frameTransport is a transport on a frameconn connection, which dials and
// frames every transport of the edge for the client, the end-to-end tests and
// the load generator alike.
type frameTransport struct{ c *frameconn.Conn }

func (t frameTransport) writeFrame(frame []byte) error {
	return closeErrorOf(t.c.WriteFrame(frame))
}

func (t frameTransport) readFrame() (wire.Header, []byte, error) {
	h, body, err := t.c.ReadFrame()
	if err != nil {
		return h, nil, closeErrorOf(err)
	}
	return h, body, nil
}

func (t frameTransport) close(code wire.Code, reason string) { _ = t.c.Close(code, reason) }

// resumption reports whether the connection resumed a TLS session, and
// whether its first data went as accepted 0-RTT data.
func (t frameTransport) resumption() (resumed, zeroRTT bool) {
	st, _ := t.c.TLS()
	return st.DidResume, t.c.Used0RTT()
}

// retry0RTT carries on after the edge rejected 0-RTT: see
// frameconn.Conn.Retry0RTT.
func (t frameTransport) retry0RTT(ctx context.Context) error {
	return closeErrorOf(t.c.Retry0RTT(ctx))
}

// closeErrorOf turns an edge's close with a disconnect code into *closeError;
// a close with another code is a plain network close, reported as the
// transport's own error.
func closeErrorOf(err error) error {
	var ce *frameconn.CloseError
	if !errors.As(err, &ce) {
		return err
	}
	if code, ok := ce.Disconnect(); ok {
		return &closeError{code: code, reason: ce.Reason}
	}
	return ce.Err
}

// options returns the frameconn options of one dial of ep.
func (p dialParams) options() frameconn.Options {
	return frameconn.Options{TLS: p.tls, MaxFrame: p.maxFrame, WriteTimeout: p.writeTimeout}
}

// opened wraps a dialled connection, or passes on the dial's error.
func opened(c *frameconn.Conn, err error) (transport, error) {
	if err != nil {
		return nil, err
	}
	return frameTransport{c}, nil
}

// dialQUIC dials raw QUIC (ALPN quicpush/1, one bidirectional stream).
func dialQUIC(ctx context.Context, ep *endpoint, p dialParams) (transport, error) {
	o := p.options()
	o.Early = p.early
	o.QUICConfig = &quic.Config{
		HandshakeIdleTimeout: ep.timeout,
		MaxIdleTimeout:       quicIdleTimeout,
		// No QUIC keep-alives unless asked for (WithQUICKeepAlive): the
		// client pings at the interval the edge asks for, which also
		// proves the session, not just the path, alive.
		KeepAlivePeriod: p.keepAlive,
		// Ephemeral pushes come in datagrams when they fit (datagram.go).
		EnableDatagrams: true,
	}
	return opened(frameconn.DialQUIC(ctx, ep.addr, o))
}

// dialWebTransport dials WebTransport over HTTP/3, the transport browsers
// use.
func dialWebTransport(ctx context.Context, ep *endpoint, p dialParams) (transport, error) {
	o := p.options()
	o.QUICConfig = &quic.Config{HandshakeIdleTimeout: ep.timeout, MaxIdleTimeout: quicIdleTimeout}
	return opened(frameconn.DialWebTransport(ctx, ep.target, o))
}

// dialTCP dials framed TCP. TCP has no close code: the Disconnect frame is
// the only way the edge says why it closed.
func dialTCP(ctx context.Context, ep *endpoint, p dialParams) (transport, error) {
	return opened(frameconn.DialTCP(ctx, ep.addr, p.options()))
}

// dialTLS dials framed TCP over TLS.
func dialTLS(ctx context.Context, ep *endpoint, p dialParams) (transport, error) {
	return opened(frameconn.DialTLS(ctx, ep.addr, p.options()))
}

// dialWS dials WebSocket (ws or wss, as the endpoint URL says).
func dialWS(ctx context.Context, ep *endpoint, p dialParams) (transport, error) {
	return opened(frameconn.DialWebSocket(ctx, ep.target, p.options()))
}
