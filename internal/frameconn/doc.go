// Package frameconn dials an edge over any of its four transports and carries
// quicpush frames on the result: raw QUIC (ALPN quicpush/1, one bidirectional
// stream), WebTransport over HTTP/3 (one bidirectional stream of a session),
// framed TCP (optionally TLS) and WebSocket (subprotocol
// wire.WebSocketProtocol, binary messages holding one or more whole frames).
//
// It is the one client-side implementation of the transports, shared by the
// Go client SDK, the end-to-end tests' protocol-level client and the load
// generator, so it serves both ends of their needs: a client that holds one
// connection for hours, a test that must send bytes no client would, and a
// generator holding tens of thousands of connections, which must stay cheap
// per connection and allocate nothing per frame it reads.
//
// A [Conn] writes bytes as given (normally whole frames; on WebSocket one call
// is one binary message) and reads the next frame, whose body is valid until
// the next read. A WebSocket message is read as a stream, so a message of many
// frames is never buffered whole: memory follows the largest frame, not the
// largest message. When the server closes with a code the transport carries (a
// QUIC application error, a WebTransport session error, a WebSocket close
// frame), reads and writes return *[CloseError], so callers can tell a
// disconnect code from a reset.
//
// The package imports only the standard library, wire/, quic-go,
// webtransport-go and gobwas/ws: the Go client SDK embeds it, and an
// application that embeds the SDK must not pull in server code.
package frameconn
