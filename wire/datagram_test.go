package wire_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/quicpush/quicpush/wire"
)

func TestDecodeDatagram(t *testing.T) {
	eph := wire.Push{Kind: wire.PushRoom, Room: "pos", ID: "m-1", Data: []byte(`{"x":1}`), Flags: wire.PushEphemeral}
	good := wire.AppendPush(nil, &eph)
	var p wire.Push
	if err := wire.DecodeDatagram(good, 0, &p); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, eph) {
		t.Fatalf("decoded %+v, want %+v", p, eph)
	}
	reliable := wire.AppendPush(nil, &wire.Push{Kind: wire.PushRoom, Room: "pos", ID: "m-2", Data: []byte("x")})
	for _, tc := range []struct {
		name string
		b    []byte
		max  int
		err  error
	}{
		{"empty", nil, 0, wire.ErrMalformed},
		{"part of a frame", good[:len(good)-1], 0, wire.ErrMalformed},
		{"two frames", append(bytes.Clone(good), good...), 0, wire.ErrMalformed},
		{"bytes after the frame", append(bytes.Clone(good), 0), 0, wire.ErrMalformed},
		{"not a push", wire.AppendFrame(nil, wire.OpPing, 0, nil), 0, wire.ErrMalformed},
		{"a reliable push", reliable, 0, wire.ErrMalformed},
		{"over the limit", good, len(good) - 1, wire.ErrTooLarge},
		{"bad body", wire.AppendFrame(nil, wire.OpPush, 0, []byte{7}), 0, wire.ErrMalformed},
	} {
		if err := wire.DecodeDatagram(tc.b, tc.max, new(wire.Push)); !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
}

// FuzzDecodeDatagram checks that any datagram either decodes to an ephemeral
// push whose encoding decodes to the same push, or fails with ErrMalformed
// or ErrTooLarge: a receiver can drop what fails and go on.
func FuzzDecodeDatagram(f *testing.F) {
	for _, p := range []wire.Push{
		{Kind: wire.PushRoom, Room: "pos", ID: "m-1", Data: []byte(`{"x":1}`), Flags: wire.PushEphemeral},
		{Kind: wire.PushDirect, ID: "m-2", Data: []byte{}, Flags: wire.PushEphemeral | 1<<9},
		{Kind: wire.PushBroadcast, ID: "m-3", Data: []byte("typing")},
	} {
		b := wire.AppendPush(nil, &p)
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(append(bytes.Clone(b), b...))
	}
	f.Add(wire.AppendFrame(nil, wire.OpPing, 0, nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p wire.Push
		err := wire.DecodeDatagram(b, 0, &p)
		if err != nil {
			if !errors.Is(err, wire.ErrMalformed) && !errors.Is(err, wire.ErrTooLarge) {
				t.Fatalf("%x: %v wraps neither ErrMalformed nor ErrTooLarge", b, err)
			}
			return
		}
		if !p.Ephemeral() {
			t.Fatalf("%x: accepted a reliable push", b)
		}
		var again wire.Push
		if err := wire.DecodeDatagram(wire.AppendPush(nil, &p), 0, &again); err != nil {
			t.Fatalf("%x: re-encoding of %+v: %v", b, p, err)
		}
		if !reflect.DeepEqual(p, again) {
			t.Fatalf("%x: %+v re-encodes as %+v", b, p, again)
		}
	})
}
