package pushpb

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/quicpush/quicpush/internal/push"
)

func TestRoundTrip(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	for _, m := range []*push.Message{
		{ID: "k", Kind: push.KindKeys, Keys: []string{"e1.1", "e2.7"}, Data: []byte("x"), Accepted: at},
		{ID: "u", Kind: push.KindUsers, Users: []string{"alice"}, Data: []byte{0, 1, 2}, Accepted: at},
		{ID: "r", Kind: push.KindRoom, Room: "chat/1", Data: []byte(`{"test":1}`), Accepted: at},
		{ID: "b", Kind: push.KindBroadcast, Data: []byte("all"), Rate: 500, Accepted: at},
		{ID: "e", Kind: push.KindRoom, Room: "pos", Data: []byte(`{"x":1}`), Accepted: at, Ephemeral: true},
		{ID: "d", Kind: push.KindDisconnect, Keys: []string{"e.1"}, Users: []string{"bob"}, Code: 3504, Reason: "bye", Accepted: at},
	} {
		b, err := Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("%s: %v", m.ID, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", m.ID, got, m)
		}
	}
}

func TestInvalid(t *testing.T) {
	for name, m := range map[string]*push.Message{
		"no kind":          {ID: "x", Room: "r"},
		"no id":            {Kind: push.KindRoom, Room: "r"},
		"room without one": {ID: "x", Kind: push.KindRoom},
		"keys without":     {ID: "x", Kind: push.KindKeys},
		"users without":    {ID: "x", Kind: push.KindUsers},
		"empty disconnect": {ID: "x", Kind: push.KindDisconnect},
	} {
		b, err := Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Unmarshal(b); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	if _, err := Unmarshal([]byte{0xff, 0xff, 0xff}); !errors.Is(err, ErrInvalid) {
		t.Errorf("garbage: got %v, want ErrInvalid", err)
	}
}

// FuzzUnmarshal checks that no record value, however broken, makes the
// decoder panic, and that what it accepts encodes back to an equal message.
func FuzzUnmarshal(f *testing.F) {
	for _, m := range []*push.Message{
		{ID: "r", Kind: push.KindRoom, Room: "chat", Data: []byte("x")},
		{ID: "d", Kind: push.KindDisconnect, Users: []string{"u"}, Code: 3000},
	} {
		b, _ := Marshal(m)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Unmarshal(b)
		if err != nil {
			return
		}
		b2, err := Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Unmarshal(b2)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-encoded message differs: %v\n%+v\n%+v", err, m, m2)
		}
	})
}
