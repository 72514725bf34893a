// Package e2e holds the end-to-end tests: a real single-process quicpush on
// loopback ports, real clients on every transport, pushes through every API
// protocol, and bad input that must end in a clean error and close.
//
// Protocol revision 5 (docs/protocol.md 6.8-6.10) is tested twice: frame by
// frame with the raw client on the four transports (serverrooms_test.go,
// joinleave_test.go), and with the Go client (clients/go) on each of its
// transports, raw QUIC and framed TCP, in goclient_rev5_test.go:
//
//   - server-side rooms: a room of a join=server namespace refuses the
//     client's Join (101); the push API's Subscribe raises the client's
//     subscribed event and its pushes follow; Unsubscribe raises unsubscribed
//     and they stop;
//   - reconnects: cut by the backend's Disconnect (3006), or on TCP by a
//     relay, and held away while the room gets pushes and the user another
//     room, the client rejoins the room among the Joins announced in Auth,
//     recovers exactly the missed pushes, and hears of the new room;
//   - join and leave notices with user, connection key and the token's info
//     claim in a join-leave=on room, none in a room with notices off;
//   - Presence: members and counts where client-presence=on, 101 where it is
//     off, 103 for a room the client is not in;
//   - the same across two edges of a cluster on kfake and redis-server.
package e2e
