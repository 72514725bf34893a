package wire

import "strconv"

// Op is a frame's operation code. docs/protocol.md lists who sends each op and
// its body layout.
type Op uint8

// Operation codes of protocol version 1.
const (
	OpAuth       Op = 0x01 // client -> server: first frame, carries the token
	OpAuthOK     Op = 0x02 // server -> client: reply to Auth
	OpPing       Op = 0x03 // either way: heartbeat, answered by Pong with the same seq
	OpPong       Op = 0x04 // reply to Ping
	OpJoin       Op = 0x05 // client -> server: join a room
	OpJoinOK     Op = 0x06 // server -> client: reply to Join
	OpLeave      Op = 0x07 // client -> server: leave a room
	OpLeaveOK    Op = 0x08 // server -> client: reply to Leave
	OpPush       Op = 0x09 // server -> client: a message
	OpError      Op = 0x0A // server -> client: a request failed; the connection stays
	OpDisconnect Op = 0x0B // server -> client: last frame before the server closes

	// Revision 3: refreshing the token of a live connection. The server
	// speaks first, so a client that does not know these ops skips
	// TokenExpiring and is disconnected at expiry, as before.
	OpTokenExpiring Op = 0x0C // server -> client: the token expires soon; answer with Refresh
	OpRefresh       Op = 0x0D // client -> server: a fresh token for this connection
	OpRefreshOK     Op = 0x0E // server -> client: reply to Refresh

	// Revision 5: rooms the application's backend controls, join and leave
	// notices, and presence for clients. The server sends Subscribed,
	// Unsubscribed and JoinLeave on its own, so earlier clients skip them; a
	// client sends PresenceGet only to an edge whose AuthOK announced
	// revision 5 or later.
	OpSubscribed   Op = 0x0F // server -> client: the backend put this connection in a room
	OpUnsubscribed Op = 0x10 // server -> client: the backend took this connection out of a room
	OpJoinLeave    Op = 0x11 // server -> client: who joined and left a room lately
	OpPresenceGet  Op = 0x12 // client -> server: who is in a room
	OpPresenceOK   Op = 0x13 // server -> client: reply to PresenceGet
)

var opNames = [...]string{ //nolint:gosec // G101: "auth" and "refresh" are op names, not credentials
	OpAuth: "auth", OpAuthOK: "auth_ok", OpPing: "ping", OpPong: "pong",
	OpJoin: "join", OpJoinOK: "join_ok", OpLeave: "leave", OpLeaveOK: "leave_ok",
	OpPush: "push", OpError: "error", OpDisconnect: "disconnect",
	OpTokenExpiring: "token_expiring", OpRefresh: "refresh", OpRefreshOK: "refresh_ok",
	OpSubscribed: "subscribed", OpUnsubscribed: "unsubscribed", OpJoinLeave: "join_leave",
	OpPresenceGet: "presence_get", OpPresenceOK: "presence_ok",
}

// Known reports whether op is defined by this protocol version.
func (op Op) Known() bool { return int(op) < len(opNames) && opNames[op] != "" }

func (op Op) String() string {
	if op.Known() {
		return opNames[op]
	}
	return "op(" + strconv.Itoa(int(op)) + ")"
}
