package quicpush

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/quicpush/quicpush/wire"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrClosed is returned by every method called after Close, and by
	// Connect and waiting requests interrupted by Close. It wraps
	// net.ErrClosed.
	ErrClosed = fmt.Errorf("quicpush: client closed: %w", net.ErrClosed)
	// ErrAlreadyConnected is returned by Connect while a previous Connect is
	// in progress or its session is still being kept alive.
	ErrAlreadyConnected = errors.New("quicpush: already connected")
	// ErrUnreachable is returned by Connect when no endpoint could be
	// connected to and authenticated on. The error also wraps the failure of
	// every endpoint, *Error included when an edge refused the connection with
	// a code that allows a retry.
	ErrUnreachable = errors.New("quicpush: no endpoint reachable")
	// ErrCertificateHash is the TLS verification error of a server whose
	// certificate matches none of the hashes given with WithCertHash.
	ErrCertificateHash = errors.New("quicpush: server certificate does not match the pinned hash")
	// ErrLeft is returned by a Join interrupted by a Leave of the same room.
	ErrLeft = errors.New("quicpush: room left while joining")
	// ErrUnsupported is returned, without anything sent, by a request the
	// edge of the live connection does not know: one of a protocol revision
	// later than the edge announced (Presence needs revision 5). It wraps
	// errors.ErrUnsupported.
	ErrUnsupported = fmt.Errorf("quicpush: the edge's protocol revision is too old for this request: %w", errors.ErrUnsupported)
)

// errConnLost fails the requests of a connection that ended; they are retried
// on the next connection or reported, depending on the request.
var errConnLost = errors.New("quicpush: connection lost")

// Error is a refusal by the edge, with its wire code: an Error frame answering
// Join or Leave (the connection stays up), or a disconnect code (a Disconnect
// frame or a transport close code) that stopped the client. Code.Reconnect
// tells the two disconnect ranges apart. Match it with errors.As.
type Error struct {
	Code    wire.Code
	Message string
}

func (e *Error) Error() string {
	s := "quicpush: " + e.Code.String() + " (" + strconv.Itoa(int(e.Code)) + ")"
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// closeError is what a transport's readFrame returns when the peer closed the
// connection with a disconnect code carried by the transport itself (a QUIC or
// WebTransport application error, a WebSocket close frame) rather than in a
// Disconnect frame, which an edge may skip or lose when it closes at once.
type closeError struct {
	code   wire.Code
	reason string
}

func (e *closeError) Error() string {
	return "closed by the server with " + e.code.String() + " (" + strconv.Itoa(int(e.code)) + "): " + e.reason
}

// isDisconnectCode reports whether a transport close code is one of the
// protocol's disconnect codes; other codes (0, HTTP/3 and WebSocket codes)
// are plain network closes.
func isDisconnectCode(v uint64) bool { return v >= 3000 && v <= 3999 }

// errProtocol describes an unexpected reply op, for the error of a request.
func errProtocol(op wire.Op, what string) error {
	return fmt.Errorf("%w: %v answering %s", wire.ErrMalformed, op, what)
}
