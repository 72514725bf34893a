package pushapi

import "errors"

// Errors the service returns, each wrapped in a *connect.Error with the code
// given below. On the server side (interceptors, tests) errors.Is finds them
// through the *connect.Error; a remote caller receives the code and the
// message text only.
//
// Validation errors carry connect.CodeInvalidArgument and a message that names
// the offending field first, for example "room: 300 bytes: name must be 1 to
// 255 bytes".
var (
	// ErrUnauthenticated means the request carried no API key or an unknown
	// one (connect.CodeUnauthenticated). Its text says how to send one, for
	// callers reading the HTTP 401 by hand.
	ErrUnauthenticated = errors.New("missing or invalid API key: send Authorization: Bearer <key>")
	// ErrPermissionDenied means the request's API key is limited to a scope
	// (push: or read:, see Config.APIKeys) that does not include the method
	// called (connect.CodePermissionDenied). The message names the method and
	// the scope it needs.
	ErrPermissionDenied = errors.New("API key not allowed to call this method")

	// ErrPayload means a push request set neither or both of data and text.
	ErrPayload = errors.New("exactly one of data and text must be set")
	// ErrPayloadTooLarge means the payload exceeds Config.MaxDataBytes.
	ErrPayloadTooLarge = errors.New("payload too large")
	// ErrNoEphemeral means an ephemeral push was addressed to a room whose
	// namespace refuses them (docs/namespaces.md, ephemeral=off).
	ErrNoEphemeral = errors.New("the room's namespace does not take ephemeral pushes")
	// ErrRequired means a required target (keys, users, room) is missing.
	ErrRequired = errors.New("required")
	// ErrTooMany means a list exceeds Config.MaxTargets entries.
	ErrTooMany = errors.New("too many entries")
	// ErrNameLength means a key, user id or room name is empty or longer
	// than 255 bytes, the longest name the wire protocol carries.
	ErrNameLength = errors.New("name must be 1 to 255 bytes")
	// ErrNameInvalid means a key, user id or room name is not UTF-8 or holds
	// control characters.
	ErrNameInvalid = errors.New("name must be UTF-8 without control characters")
	// ErrTopTooLarge means Online asked for more than 100 top rooms.
	ErrTopTooLarge = errors.New("top too large")
	// ErrReasonTooLong means a disconnect reason exceeds 123 bytes, the
	// longest reason a WebSocket close frame carries.
	ErrReasonTooLong = errors.New("reason too long")

	// ErrNotAccepted means the message bus did not accept a message
	// (connect.CodeUnavailable, or connect.CodeDeadlineExceeded when the
	// call's deadline passed first). The caller may retry; after a timeout
	// the bus may still have stored the first attempt, so a retry can deliver
	// the payload twice under two ids. The bus error itself is logged, not
	// sent to the caller.
	ErrNotAccepted = errors.New("message not accepted by the bus")
	// ErrOnlineUnavailable means the online counts failed to answer an
	// Online call (connect.CodeUnavailable).
	ErrOnlineUnavailable = errors.New("online counts unavailable")
	// ErrServerRoomsUnavailable means the store of users' server-side rooms
	// failed to answer Subscribe or Unsubscribe (connect.CodeUnavailable):
	// nothing was published; retry.
	ErrServerRoomsUnavailable = errors.New("server-side rooms unavailable")
)

// Configuration errors returned by New.
var (
	// ErrNoAPIKeys means Config.APIKeys is empty and Config.Insecure is false.
	ErrNoAPIKeys = errors.New("pushapi: no API keys configured (set Insecure to serve without authentication)")
	// ErrEmptyAPIKey means Config.APIKeys holds an empty key (or a scope
	// prefix alone).
	ErrEmptyAPIKey = errors.New("pushapi: empty API key")
	// ErrBadAPIKey means a Config.APIKeys entry is malformed: a sha256:
	// digest that is not 64 hex digits, or two scope prefixes.
	ErrBadAPIKey = errors.New("pushapi: malformed API key")
	// ErrNoPublisher means Config.Publisher is nil.
	ErrNoPublisher = errors.New("pushapi: Publisher is required")
	// ErrNoOnline means Config.Online is nil.
	ErrNoOnline = errors.New("pushapi: Online is required")
	// ErrBadLimit means Config.MaxDataBytes or Config.MaxTargets is out of
	// range.
	ErrBadLimit = errors.New("pushapi: limit out of range")
)
