// Package edge is the comet: it terminates client connections and delivers
// pushes to them.
//
// One UDP port serves raw QUIC (ALPN "quicpush/1") and HTTP/3 WebTransport
// (ALPN "h3") on a single quic.Transport, dispatched by the negotiated ALPN. One
// TCP port serves framed TCP, the same over TLS, and WebSocket, told apart by
// their first bytes. Every transport feeds one transport-agnostic session
// model through the small transport interface.
//
// A message is encoded once per edge into one immutable buffer that every
// receiver's queue shares. Each session owns a bounded queue; a flusher runs
// only while the queue is not empty and drains everything queued into one
// write, so writes batch themselves under load while an idle server still
// writes at once. A session whose queue overflows is cut with the
// slow-consumer code and never blocks fan-out.
//
// Where things are:
//
//   - edge.go: Listen, Deliver (encoding and fan-out), the janitor, Shutdown
//     and Close; config.go: every setting and its default.
//   - hub.go: membership: sessions by shard, users, room members, register,
//     join, leave, lookup, the fan-out's reads, Snapshot and Online, and the
//     lock order; routes.go: room counts and what the route store is told;
//     presence.go: who is in a room (Presence, PresenceStats, RoomMembers);
//     presence_client.go: clients' PresenceGet; joinleave.go: join and leave
//     notices, coalesced per room per interval (MergeJoinLeave takes other
//     edges' changes).
//   - session.go: a session's protocol side (handshake, requests, token
//     expiry); session_write.go: its write side (queue, flush, close, cut);
//     disconnect.go: the disconnects the edge sends; proxy.go: the
//     application backend's hooks at Auth and Join (Config.Proxy).
//   - flusher.go: the pool of goroutines that write; clock.go: the coarse
//     clock of the hot path; pacer.go: the write policy; datagram.go:
//     ephemeral pushes, in datagrams where the connection allows.
//   - transport.go and transport_quic.go, transport_tcp.go, transport_ws.go:
//     the transports; origin.go: browser origins.
//   - limits.go: per-IP and per-connection limits; resume.go: resuming from
//     a stream position; service.go: the internal EdgeService core calls;
//     serverrooms.go: server-side rooms (the user's at Auth, the push API's
//     Subscribe and Unsubscribe orders); metrics.go: the edge's metrics.
//
// The edge knows sockets and sessions, not the bus or any store: it takes
// messages through Deliver and answers Online, Presence and PresenceStats
// from its own hub; in a cluster it reads clients' presence and exchanges
// join and leave notices through interfaces of its own (PresenceReader,
// JoinLeaveBus).
package edge
