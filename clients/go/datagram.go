package quicpush

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/quicpush/quicpush/wire"
)

// Datagrams (protocol revision 4). On raw QUIC and WebTransport the edge may
// send an ephemeral push (superseded state: positions, typing, live scores)
// as one Push frame in one datagram instead of on the stream, so that it
// never waits behind a lost stream packet. The client reads a connection's
// datagrams on a goroutine of their own, beside the stream's reader, and
// hands each push to the same OnMessage handler, marked Message.Ephemeral.
// Ephemeral pushes carry no position: they never move the client's resume
// positions and are never counted as duplicates, and a datagram lost or
// dropped is not replayed. A malformed datagram is dropped and counted; it
// does not end the connection, since it cannot have desynchronized the
// stream.

// datagramState is the client's datagram bookkeeping.
type datagramState struct {
	received  atomic.Int64 // ephemeral pushes that came in a datagram
	malformed atomic.Int64 // datagrams dropped as malformed
	// handler serializes OnMessage between the stream's reader and the
	// datagrams' reader, so the handler still runs one message at a time.
	handler sync.Mutex
}

// Datagrams returns how many pushes this client received in datagrams and
// how many datagrams it dropped as malformed, over all its connections.
func (c *Client) Datagrams() (received, malformed int64) {
	return c.dg.received.Load(), c.dg.malformed.Load()
}

// startDatagramReaderLocked starts the datagram reader of cn if its connection
// carries datagrams; c.mu is held.
func (c *Client) startDatagramReaderLocked(cn *conn) {
	ft, ok := cn.t.(frameTransport)
	if !ok {
		return
	}
	var (
		ctx  context.Context
		recv func(context.Context) ([]byte, error)
	)
	switch q, w := ft.c.QUIC(), ft.c.WebTransport(); {
	case w != nil:
		ctx, recv = w.Context(), w.ReceiveDatagram
	case q != nil && q.ConnectionState().SupportsDatagrams.Local:
		ctx, recv = q.Context(), q.ReceiveDatagram
	default:
		return
	}
	c.goLocked(func() { c.readDatagrams(ctx, recv) })
}

// readDatagrams delivers the pushes of one connection's datagrams until the
// connection ends (ctx with it).
func (c *Client) readDatagrams(ctx context.Context, recv func(context.Context) ([]byte, error)) {
	for {
		b, err := recv(ctx)
		if err != nil {
			return
		}
		var p wire.Push
		if err := wire.DecodeDatagram(b, c.opts.maxFrame, &p); err != nil {
			c.dg.malformed.Add(1)
			c.log.Debug("quicpush: dropping a malformed datagram", "err", err)
			continue
		}
		c.dg.received.Add(1)
		c.deliver(&p)
	}
}
