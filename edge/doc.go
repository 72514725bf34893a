// Package edge is the comet: it terminates client connections and delivers
// pushes to them.
//
// One UDP port serves raw QUIC (ALPN "quicpush/1") and HTTP/3 WebTransport
// (ALPN "h3") on a single quic.Transport, dispatched by the negotiated ALPN. One
// TCP port serves framed TCP, the same over TLS, and WebSocket, told apart by
// their first bytes. Every transport feeds one transport-agnostic session
// model (session.go) through the small transport interface (transport.go).
//
// Sessions live in shards keyed by connection key (shard.go); each shard also
// indexes users and room members. A message is encoded once per edge into one
// immutable buffer that every receiver's queue shares. Each session owns a
// bounded queue; a flusher goroutine exists only while the queue is not empty
// and drains everything queued into one write, so writes batch themselves under
// load while an idle server still writes at once. A session whose queue
// overflows is cut with the slow-consumer code and never blocks fan-out.
//
// Lock order: shard.mu before session.mu; a session never takes a shard lock
// while holding its own.
//
// The edge knows sockets and sessions, not the bus or any store: it takes
// messages through Deliver and answers Online from its own shards.
package edge
