// Package wire is the quicpush client protocol codec, version 1, written once and
// shared by the edge and clients/go. docs/protocol.md is its specification and
// docs/protocol-vectors.json holds byte-level test vectors that the Go and
// JavaScript codecs both check.
//
// A frame is a 9-byte header (length, op, seq) followed by an op-specific body.
// Frames are concatenated on every transport: a QUIC or WebTransport stream and a
// TCP connection carry a plain frame stream, and a WebSocket binary message
// carries one or more whole frames. A QUIC or WebTransport datagram carries
// exactly one ephemeral Push frame (revision 4, DecodeDatagram). The package has no dependency outside the
// standard library, so an application that embeds clients/go pulls nothing else
// in through it.
//
// Encoding appends to a caller-owned slice so that the edge encodes a push once
// and shares the bytes with every receiver; decoding never retains the input
// except where a method says so.
package wire
