package wire

import "fmt"

// Datagrams (revision 4). On raw QUIC and WebTransport the edge may send an
// ephemeral push as one whole Push frame in one datagram (RFC 9221, or a
// WebTransport datagram) instead of on the connection's stream, so that it
// never waits behind a lost stream packet and the stream never waits behind
// it. A datagram holds exactly one frame: nothing before it, nothing after it.

// DecodeDatagram parses a datagram's payload: one whole Push frame of at most
// maxFrame bytes (zero means DefaultMaxFrame) carrying PushEphemeral. Data
// aliases b. Anything else is an error wrapping ErrMalformed or ErrTooLarge;
// a receiver drops such a datagram and keeps the connection (a datagram is
// outside the stream's framing, so a bad one cannot desynchronize it).
func DecodeDatagram(b []byte, maxFrame int, p *Push) error {
	h, body, rest, ok, err := Split(b, maxFrame)
	switch {
	case err != nil:
		return fmt.Errorf("datagram: %w", err)
	case !ok:
		return fmt.Errorf("datagram: %w: %d bytes hold part of a frame", ErrMalformed, len(b))
	case len(rest) != 0:
		return fmt.Errorf("datagram: %w: %d bytes after the frame", ErrMalformed, len(rest))
	case h.Op != OpPush:
		return fmt.Errorf("datagram: %w: op %v, want push", ErrMalformed, h.Op)
	}
	if err := p.Decode(body); err != nil {
		return fmt.Errorf("datagram: %w", err)
	}
	if !p.Ephemeral() {
		return fmt.Errorf("datagram: %w: a reliable push", ErrMalformed)
	}
	return nil
}
