// Package quicpush is the Go client of quicpush. It connects to an edge over
// raw QUIC, WebTransport, framed TCP (optionally TLS) or WebSocket, keeps the
// session alive with heartbeats, joins rooms and hands every pushed message to
// a callback. When the connection drops it reconnects on its own, with
// full-jitter exponential backoff, and joins its rooms again from the last
// position it saw, so the edge can replay what was missed.
//
// The package imports the wire codec and no other quicpush package, so an
// application that embeds it pulls in no server dependency (Kafka, Redis,
// Prometheus, RPC frameworks).
//
// A minimal program:
//
//	c, err := quicpush.New(
//		[]string{"quic://push.example.com:4443", "wss://push.example.com/ws"},
//		quicpush.WithTokenFunc(fetchToken),
//		quicpush.WithOnMessage(func(m quicpush.Message) { handle(m) }),
//	)
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	if err := c.Connect(ctx); err != nil {
//		return err
//	}
//	if err := c.Join(ctx, "news"); err != nil {
//		return err
//	}
//
// Endpoints are tried in the order given on every connect, each within its
// dial timeout, so list the preferred transport first and a TCP or WebSocket
// endpoint after it for networks that block UDP.
//
// # Callbacks
//
// [WithOnMessage] handlers run on the connection's reader goroutine, one at a
// time and in the order the edge sent the messages. [WithOnConnect] and
// [WithOnDisconnect] handlers run on the goroutine that connected (Connect's
// caller for the first connection, the client's loop after that); OnConnect
// is called once the connection reads, so the first messages of a connection
// may reach OnMessage while OnConnect runs, and OnDisconnect is called after
// the last message of its connection.
//
// While an OnMessage handler runs no further frame is read, answers to Join
// and Leave and heartbeat replies included: a handler that blocks for longer
// than the edge's ping interval gets the connection dropped, and Join or
// Leave called from it wait until their timeout. Hand slow work to another
// goroutine. Handlers may call Close.
package quicpush
