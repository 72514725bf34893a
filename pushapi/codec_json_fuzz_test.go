package pushapi

import (
	"encoding/json"
	"testing"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
)

// FuzzPayloadJSON feeds arbitrary request bodies to the JSON codec: it never
// panics, and a JSON-valued data it accepts arrives as valid JSON.
func FuzzPayloadJSON(f *testing.F) {
	for _, s := range []string{
		`{"room":"r","data":{"a":[1,2,{"b":null}]}}`,
		`{"room":"r","data":"eA=="}`,
		`{"room":"r","b64data":"eA=="}`,
		`{"room":"r","data":null,"b64data":"eA=="}`,
		`{"room":"r","data":{"a":1},"b64data":"eA=="}`,
		`{"room":"r","data":1e999}`,
		`{"room":"r","data":tru}`,
		`[1,2]`,
		`"x"`,
		`{}`,
		`{"data":{"data":{"b64data":1}}}`,
	} {
		f.Add([]byte(s))
	}
	c := payloadJSONCodec{name: "json"}
	f.Fuzz(func(t *testing.T, body []byte) {
		var m pushv1.PushRoomRequest
		if err := c.Unmarshal(body, &m); err != nil {
			return
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(body, &fields) != nil {
			return
		}
		if d, ok := fields["data"]; ok && !isNull(d) && !isString(d) && !json.Valid(m.GetData()) {
			t.Fatalf("data %s arrived as %q, not JSON", d, m.GetData())
		}
	})
}
