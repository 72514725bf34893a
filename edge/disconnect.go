package edge

import "github.com/quicpush/quicpush/wire"

// disconnect is why the edge ends a session: the code and reason of the
// Disconnect frame that is the session's last (and of the close of the
// transport under it). The zero disconnect means none.
type disconnect struct {
	code   wire.Code
	reason string
}

// The disconnects the edge sends on its own; those refusing a registration
// are beside register (hub.go).
var (
	disconnectShutdown      = disconnect{wire.CodeShutdown, "edge draining, reconnect"}
	disconnectSlowConsumer  = disconnect{wire.CodeSlowConsumer, "write queue full"}
	disconnectFrameRate     = disconnect{wire.CodeRateLimited, "too many frames per second"}
	disconnectByteRate      = disconnect{wire.CodeRateLimited, "too many bytes per second"}
	disconnectTokenExpired  = disconnect{wire.CodeTokenExpired, "token expired"}
	disconnectInvalidToken  = disconnect{wire.CodeInvalidToken, "invalid token"}
	disconnectBadVersion    = disconnect{wire.CodeUnsupportedVersion, "protocol version 1 only"}
	disconnectNoRoute       = disconnect{wire.CodeServerError, "route store unavailable, reconnect"}
	disconnectAuthenticated = disconnect{wire.CodeProtocolError, "already authenticated"}
	disconnectProxyFailed   = disconnect{wire.CodeServerError, "connect hook unavailable, reconnect"}
)

// protocolError is a 3501 that tells the client what it did wrong.
func protocolError(reason string) disconnect {
	return disconnect{wire.CodeProtocolError, reason}
}

// timedOut is a timeout's disconnect (3002 heartbeat, 3005 handshake), the
// code's name as its reason.
func timedOut(code wire.Code) disconnect {
	return disconnect{code, code.String()}
}
