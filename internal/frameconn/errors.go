package frameconn

import (
	"errors"
	"strconv"

	"github.com/gobwas/ws/wsutil"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"

	"github.com/quicpush/quicpush/wire"
)

// CloseError is what ReadFrame and WriteFrame return when the server closed
// the connection with a code carried by the transport itself: a QUIC
// application error, a WebTransport session error or a WebSocket close frame.
// An edge closes with a disconnect code (see Disconnect) after, or instead
// of, a Disconnect frame; other codes are the transport's own (0, HTTP/3 and
// WebSocket codes). Match it with errors.As; it unwraps to the transport's
// error.
type CloseError struct {
	// Code is the close code as sent (a WebSocket close frame without one
	// reports 1005, as RFC 6455 says).
	Code uint64
	// Reason is the text sent with the code.
	Reason string
	// Err is the transport's error.
	Err error
}

func (e *CloseError) Error() string {
	s := "frameconn: closed by the server with code " + strconv.FormatUint(e.Code, 10)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

func (e *CloseError) Unwrap() error { return e.Err }

// Disconnect returns the code as a protocol disconnect code, and whether it is
// one (3000-3999).
func (e *CloseError) Disconnect() (wire.Code, bool) {
	if e.Code >= 3000 && e.Code <= 3999 {
		return wire.Code(e.Code), true
	}
	return 0, false
}

// quicError turns a close of the QUIC connection by the server into
// *CloseError.
func quicError(err error) error {
	var ae *quic.ApplicationError
	if errors.As(err, &ae) && ae.Remote {
		return &CloseError{Code: uint64(ae.ErrorCode), Reason: ae.ErrorMessage, Err: err}
	}
	return err
}

// webTransportError turns a close by the server, of the session or of the
// whole QUIC connection, into *CloseError.
func webTransportError(err error) error {
	var se *webtransport.SessionError
	if errors.As(err, &se) && se.Remote {
		return &CloseError{Code: uint64(se.ErrorCode), Reason: se.Message, Err: err}
	}
	return quicError(err)
}

// webSocketError turns a close frame into *CloseError.
func webSocketError(err error) error {
	var ce wsutil.ClosedError
	if errors.As(err, &ce) {
		return &CloseError{Code: uint64(ce.Code), Reason: ce.Reason, Err: err}
	}
	return err
}
