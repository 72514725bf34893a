package pushapi

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"

	"connectrpc.com/connect"

	"github.com/quicpush/quicpush/wire"
)

// Request limits that are not configurable.
const (
	// maxTop is the largest OnlineRequest.top.
	maxTop = 100
	// maxReasonLen is the longest disconnect reason in bytes: the payload of
	// a WebSocket close frame (125 bytes) minus its 2-byte code.
	maxReasonLen = 123
)

// invalid wraps err, prefixed by the field it is about, in a
// connect.CodeInvalidArgument error.
func invalid(field string, err error) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s: %w", field, err))
}

// validatePayload checks that exactly one of data and text is set and that the payload
// fits limit bytes, and returns it as bytes.
func validatePayload(data []byte, text string, limit int) ([]byte, error) {
	switch {
	case len(data) == 0 && text == "", len(data) != 0 && text != "":
		return nil, invalid("data, text", ErrPayload)
	case len(data) > limit:
		return nil, invalid("data", fmt.Errorf("%d bytes, at most %d: %w", len(data), limit, ErrPayloadTooLarge))
	case len(text) > limit:
		return nil, invalid("text", fmt.Errorf("%d bytes, at most %d: %w", len(text), limit, ErrPayloadTooLarge))
	case text != "":
		return []byte(text), nil
	}
	return data, nil
}

// validateNames checks a list of keys, user ids or rooms: at most limit entries, each a
// valid name. required says whether the list may be empty.
func validateNames(field string, list []string, required bool, limit int) error {
	if required && len(list) == 0 {
		return invalid(field, ErrRequired)
	}
	if len(list) > limit {
		return invalid(field, fmt.Errorf("%d entries, at most %d: %w", len(list), limit, ErrTooMany))
	}
	for i, s := range list {
		if err := checkName(s); err != nil {
			return invalid(field+"["+strconv.Itoa(i)+"]", err)
		}
	}
	return nil
}

// validateName checks a single required name such as a room.
func validateName(field, s string) error {
	if s == "" {
		return invalid(field, ErrRequired)
	}
	if err := checkName(s); err != nil {
		return invalid(field, err)
	}
	return nil
}

// checkName enforces the wire protocol's limit on names and keeps them
// printable, so that they are safe in logs, metrics and dashboards.
func checkName(s string) error {
	if len(s) == 0 || len(s) > wire.MaxRoomLen {
		return fmt.Errorf("%d bytes: %w", len(s), ErrNameLength)
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 || unicode.IsControl(r) {
			return fmt.Errorf("byte %d: %w", i, ErrNameInvalid)
		}
		i += size
	}
	return nil
}

// validateTop checks OnlineRequest.top.
func validateTop(n uint32) error {
	if n > maxTop {
		return invalid("top", fmt.Errorf("%d, at most %d: %w", n, maxTop, ErrTopTooLarge))
	}
	return nil
}

// validateReason checks a disconnect reason. The protobuf decoders already reject
// strings that are not UTF-8.
func validateReason(s string) error {
	if len(s) > maxReasonLen {
		return invalid("reason", fmt.Errorf("%d bytes, at most %d: %w", len(s), maxReasonLen, ErrReasonTooLong))
	}
	return nil
}
