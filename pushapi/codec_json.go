package pushapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
)

// payloadJSONCodec is the JSON codec of the Connect protocol (protojson,
// unknown fields discarded, as connect-go's own) with the payload spellings
// backends know from Centrifugo, for the four push requests:
//
//	"data": {"any": "JSON"}   the payload is the value's JSON text (compacted):
//	                          an object, array, number or boolean
//	"data": "aGk="            base64 bytes, as protojson reads a bytes field
//	                          (what data always meant, kept for existing callers)
//	"b64data": "aGk="         base64 bytes
//	"text": "hi"              the text's UTF-8 bytes
//
// A JSON string payload therefore goes in text (`"text": "\"hi\""`) or
// b64data. null means unset, as in protojson. The protobuf encodings are
// unchanged (data is bytes), and so are responses.
type payloadJSONCodec struct {
	name string
}

// payloadCodecs returns the codec under both names connect-go registers its
// JSON codec with.
func payloadCodecs() []payloadJSONCodec {
	return []payloadJSONCodec{{name: "json"}, {name: "json; charset=utf-8"}}
}

func (c payloadJSONCodec) Name() string { return c.name }

func (payloadJSONCodec) IsBinary() bool { return false }

func (payloadJSONCodec) Marshal(message any) ([]byte, error) {
	m, ok := message.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("pushapi: %T is not a proto message", message)
	}
	return protojson.MarshalOptions{}.Marshal(m)
}

func (payloadJSONCodec) Unmarshal(body []byte, message any) error {
	m, ok := message.(proto.Message)
	if !ok {
		return fmt.Errorf("pushapi: %T is not a proto message", message)
	}
	if len(body) == 0 {
		return errors.New("zero-length payload is not a valid JSON object")
	}
	setData := dataSetter(m)
	var raw []byte
	if setData != nil {
		var err error
		if body, raw, err = liftPayload(body); err != nil {
			return fmt.Errorf("unmarshal into %T: %w", message, err)
		}
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, m); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", message, err)
	}
	if raw != nil {
		setData(raw)
	}
	return nil
}

// dataSetter returns how to set the payload of a push request, or nil for
// any other message.
func dataSetter(m proto.Message) func([]byte) {
	switch r := m.(type) {
	case *pushv1.PushKeysRequest:
		return func(b []byte) { r.Data = b }
	case *pushv1.PushUsersRequest:
		return func(b []byte) { r.Data = b }
	case *pushv1.PushRoomRequest:
		return func(b []byte) { r.Data = b }
	case *pushv1.BroadcastRequest:
		return func(b []byte) { r.Data = b }
	}
	return nil
}

// liftPayload takes a JSON-valued data out of a request body, and turns
// b64data into data: it returns the body for protojson and the raw payload
// (nil when data is absent or base64). A body that is not a JSON object is
// returned as it is, for protojson to refuse.
func liftPayload(body []byte) ([]byte, []byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return body, nil, nil //nolint:nilerr // protojson reports the syntax error in its own terms
	}
	data, hasData := fields["data"]
	b64, hasB64 := fields["b64data"]
	var raw []byte
	switch {
	case hasB64:
		if hasData && !isNull(data) {
			return nil, nil, errors.New("data, b64data: give the payload in one of them")
		}
		if !isNull(b64) && !isString(b64) {
			return nil, nil, errors.New("b64data: want a base64 string")
		}
		delete(fields, "b64data")
		fields["data"] = b64
	case !hasData || isNull(data) || isString(data):
		return body, nil, nil // absent, unset, or base64: protojson's own reading
	default:
		var compact bytes.Buffer
		if err := json.Compact(&compact, data); err != nil {
			return nil, nil, fmt.Errorf("data: %w", err)
		}
		delete(fields, "data")
		raw = compact.Bytes()
	}
	rest, err := json.Marshal(fields)
	if err != nil {
		return nil, nil, err
	}
	return rest, raw, nil
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

func isString(v json.RawMessage) bool {
	t := bytes.TrimSpace(v)
	return len(t) > 0 && t[0] == '"'
}
