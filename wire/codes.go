package wire

import "strconv"

// Code is a disconnect code (sent in a Disconnect frame, and as the QUIC,
// WebTransport or WebSocket close code) or a request error code (sent in an
// Error frame). The two ranges never overlap, so one type serves both.
//
// Disconnect codes say what a client should do next:
//   - 3000-3499: reconnect, after the advised delay and with backoff;
//   - 3500-3999: do not reconnect without a change (a new token, a fixed client).
//
// This table is the single source of the codes: docs/protocol.md and the
// JavaScript client mirror it and docs/protocol-vectors.json pins the values.
type Code uint16

// Disconnect codes after which a client reconnects.
const (
	CodeShutdown          Code = 3000 // the edge is draining: reconnect now, to another edge if there is one
	CodeServerError       Code = 3001 // internal error on the edge: reconnect with backoff
	CodeHeartbeatTimeout  Code = 3002 // no frame from the client within the heartbeat window
	CodeSlowConsumer      Code = 3003 // the client did not read fast enough; its queue overflowed
	CodeTokenExpired      Code = 3004 // the token expired: reconnect with a fresh token
	CodeHandshakeTimeout  Code = 3005 // no Auth frame within the handshake timeout
	CodeServerDisconnect  Code = 3006 // a backend disconnected the client and allowed a reconnect
	CodeConnectionLimit   Code = 3007 // too many connections (per IP or user): reconnect with backoff
	CodeRateLimited       Code = 3008 // the client sent frames or bytes faster than the edge allows
	CodeReconnectMaxRange Code = 3499 // highest code in the reconnect range
)

// Disconnect codes after which a client stops.
const (
	CodeInvalidToken       Code = 3500 // token malformed, badly signed or not yet valid
	CodeProtocolError      Code = 3501 // malformed frame, unknown op, op out of order
	CodeFrameTooLarge      Code = 3502 // a frame exceeded the announced limit
	CodeUnsupportedVersion Code = 3503 // Auth carried a protocol version this edge does not speak
	CodeKicked             Code = 3504 // a backend disconnected the client and forbade a reconnect
)

// Request error codes, sent in Error frames; the connection stays open.
const (
	ErrCodeBadRequest    Code = 100 // the request body is invalid (for example an empty room name)
	ErrCodeForbidden     Code = 101 // the token does not allow this room
	ErrCodeTooManyRooms  Code = 102 // the connection is in as many rooms as the edge allows
	ErrCodeNotJoined     Code = 103 // Leave for a room the connection is not in
	ErrCodeInternal      Code = 104 // the edge failed to serve the request
	ErrCodeTokenRejected Code = 105 // Refresh carried a token that is invalid, expired or another user's
)

var codeNames = map[Code]string{
	CodeShutdown: "shutdown", CodeServerError: "server error", CodeHeartbeatTimeout: "heartbeat timeout",
	CodeSlowConsumer: "slow consumer", CodeTokenExpired: "token expired", CodeHandshakeTimeout: "handshake timeout",
	CodeServerDisconnect: "disconnected by server", CodeConnectionLimit: "connection limit",
	CodeRateLimited:  "rate limited",
	CodeInvalidToken: "invalid token", CodeProtocolError: "protocol error", CodeFrameTooLarge: "frame too large",
	CodeUnsupportedVersion: "unsupported protocol version", CodeKicked: "kicked",
	ErrCodeBadRequest: "bad request", ErrCodeForbidden: "forbidden", ErrCodeTooManyRooms: "too many rooms",
	ErrCodeNotJoined: "not joined", ErrCodeInternal: "internal error", ErrCodeTokenRejected: "token rejected",
}

func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return "code " + strconv.Itoa(int(c))
}

// Reconnect reports whether a client disconnected with code c should connect
// again. Codes outside both disconnect ranges (for example a transport that
// closed without a code) are treated as reconnectable network failures.
func (c Code) Reconnect() bool { return c < CodeInvalidToken || c > 3999 }
