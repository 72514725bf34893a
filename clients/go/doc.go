// Package quicpush is the Go client of quicpush. It connects to an edge over
// raw QUIC, WebTransport, framed TCP (optionally TLS) or WebSocket, keeps the
// session alive with heartbeats, joins rooms and hands every pushed message to
// a callback. When the connection drops it reconnects on its own, with
// full-jitter exponential backoff, to another edge of a cluster when its edge
// drains or dies, and joins its rooms again from the last position it saw, so
// the edge can replay what was missed.
//
// The package imports the wire codec and no other quicpush package, so an
// application that embeds it pulls in no server dependency (Kafka, Redis,
// Prometheus, RPC frameworks).
//
// A minimal program:
//
//	c, err := quicpush.New(
//		[]string{"quic://push.example.com:4443 wss://push.example.com/ws"},
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
// # Edges and endpoints
//
// Each element of the list given to [New] is one edge: its endpoint URLs
// separated by white space, tried in that order, each within its dial
// timeout. List the preferred transport first and a TCP or WebSocket endpoint
// after it for networks that block UDP. A cluster is one element per edge:
//
//	quicpush.New([]string{
//		"quic://10.0.0.1:4433 tcp://10.0.0.1:4434",
//		"quic://10.0.0.2:4433 tcp://10.0.0.2:4434",
//	}, opts...)
//
// Connect tries the edges in the order given. A reconnect tries them all too,
// starting with the edge of the lost connection, except when that edge is
// likely gone: when it drains (it sent wire.CodeShutdown, as a quicpush edge
// does when it shuts down gracefully) or the connection ended without a
// disconnect code (a network failure, a dead edge, a missed heartbeat), the
// reconnect starts with the next edge in the list, wrapping around, so the
// lost edge is tried last. Other codes (the edge's heartbeat timeout, a
// backend's disconnect, a slow consumer) concern the session, not the edge.
// A drain also restarts the backoff, so the client moves within the first
// and shortest delay, jittered in [0, 200 ms) by default (see [WithBackoff]).
// Within one attempt an edge that cannot be reached on any of its endpoints,
// or that refuses the client with a code that allows a retry, gives way to
// the next edge.
// [Client.Endpoint] and [ConnectEvent] tell which endpoint is in use.
//
// # Fast reconnects
//
// The client keeps the TLS session tickets edges send ([WithSessionCache]:
// in memory by default, [PersistentSessionCache] to keep them across
// launches). A reconnect to an edge process that issued one resumes the
// session; over raw QUIC it also sends Auth and a Join for every remembered
// room, with its position, in the first packet as 0-RTT data, so the
// messages missed meanwhile arrive one round trip sooner ([WithZeroRTT]).
// An edge that rejects the 0-RTT data (another edge, or one restarted) gets
// the same frames again after a full handshake. [ConnectEvent] reports
// Resumed and ZeroRTT.
//
// # Network changes
//
// A phone that changes networks calls [Client.NetworkChanged] from its
// platform callback (or [Client.Migrate] to wait): over raw QUIC the live
// connection moves to a socket on the new network after one probe round
// trip, keeping its session; otherwise the client reconnects and resumes.
// A NAT rebinding needs nothing: the edge follows the connection at the
// client's next packet ([WithQUICKeepAlive] bounds that wait). See
// docs/mobile.md.
//
// # Callbacks
//
// [WithOnMessage] handlers run on the connection's reader goroutine, one at a
// time and in the order the edge sent the messages; [WithOnRecovery],
// [WithOnSubscription] and [WithOnJoinLeave] handlers run there too, in order
// with the messages. [WithOnConnect] and
// [WithOnDisconnect] handlers run on the goroutine that connected (Connect's
// caller for the first connection, the client's loop after that); OnConnect
// is called once the connection reads, so the first messages of a connection
// may reach OnMessage while OnConnect runs, and OnDisconnect is called after
// the last message of its connection.
//
// # Server-side rooms and presence
//
// An edge of protocol revision 5 ([Client.Revision], [ConnectEvent]) lets the
// application's backend put the client in rooms and take it out (the push
// API's Subscribe and Unsubscribe). The client keeps such a room as if it had
// joined it: its messages reach OnMessage, deduplicated by position; [Client.Rooms]
// lists it, marked ServerSide; a reconnect rejoins it from its position, with
// the joined rooms, in the flight behind Auth. [WithOnSubscription] tells the
// application of each change, including a server-side room dropped because
// the edge refused its rejoin (the backend took the user out meanwhile):
// that is the news of an unsubscription, not an error. [Client.Leave] leaves a
// server-side room for this connection.
//
// In rooms whose namespace turns them on, [WithOnJoinLeave] hears who came and
// went (coalesced, best effort, never replayed), and [Client.Presence] asks
// for the room's counts and members. Presence returns [ErrUnsupported],
// without sending anything, to an edge of an earlier revision, which would
// close the connection for a request it does not know.
//
// # Ephemeral messages
//
// A push marked ephemeral by the backend (superseded state: positions,
// typing, live scores) arrives with [Message].Ephemeral set. Over raw QUIC
// and WebTransport it may come in a datagram, read by a goroutine of its own:
// OnMessage still runs one message at a time, but an ephemeral message may
// overtake, or be overtaken by, reliable ones, and one lost or dropped is
// never replayed. Ephemeral messages have no position and never count as
// duplicates. [Client.Datagrams] counts what came in datagrams.
//
// While a handler on the reader goroutine runs no further frame is read,
// answers to Join, Leave and Presence and heartbeat replies included: a
// handler that blocks for longer than the edge's ping interval gets the
// connection dropped, and Join, Leave or Presence called from it wait until
// their timeout. Hand slow work to another goroutine. Handlers may call
// Close.
package quicpush
