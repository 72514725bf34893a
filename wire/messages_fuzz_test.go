package wire_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/quicpush/quicpush/wire"
)

// FuzzDecode feeds every message decoder arbitrary bodies, by op. A body
// that decodes must re-encode canonically: the encoding decodes to the same
// fields, is no longer than the original (canonical means minimal uvarints
// and all-zero optional groups left out) and encodes to itself again. Bytes
// appended after a canonical encoding are ignored, as later revisions rely
// on, except where they complete an optional group the encoding left out. A
// decoder must also leave nothing of a previous decode behind when it
// decodes into a reused value. Ops come from newFields (vectors_test.go), so
// an op added there is fuzzed too.
func FuzzDecode(f *testing.F) {
	vf := loadVectors(f)
	addFrame := func(b []byte) {
		if len(b) < wire.HeaderSize {
			return
		}
		h, err := wire.ParseHeader(b, 1<<30)
		if err != nil || len(b) < h.FrameSize() {
			return
		}
		body := b[wire.HeaderSize:h.FrameSize()]
		f.Add(uint8(h.Op), h.Seq, body, []byte(nil))
		f.Add(uint8(h.Op), h.Seq, body, []byte{0x01, 0x05, 0x02, 'e', '7'})
	}
	for _, v := range vf.Frames {
		addFrame(mustHex(f, v.Hex))
	}
	for _, v := range vf.Invalid {
		addFrame(mustHex(f, v.Hex))
	}
	f.Fuzz(func(t *testing.T, op uint8, seq uint32, body, junk []byte) {
		checkDirtyDecode(t, wire.Op(op), body)

		got := newFields(wire.Op(op))
		if got == nil {
			if wire.Op(op).Known() {
				t.Fatalf("op %v is known but vectors_test.go has no fields for it", wire.Op(op))
			}
			return
		}
		if err := got.decode(body); err != nil {
			if !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("%v body %x: error %v does not wrap ErrMalformed", wire.Op(op), body, err)
			}
			return
		}
		frame := encodeFields(t, got, wire.Op(op), seq)
		canon := frame[wire.HeaderSize:]
		if len(canon) > len(body) {
			t.Fatalf("%v: canonical body %x is longer than %x", wire.Op(op), canon, body)
		}
		again := newFields(wire.Op(op))
		if err := again.decode(canon); err != nil {
			t.Fatalf("%v: canonical body %x of %x: %v", wire.Op(op), canon, body, err)
		}
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("%v: %x decoded as %+v, its encoding %x as %+v", wire.Op(op), body, got, canon, again)
		}
		if re := encodeFields(t, again, wire.Op(op), seq); !bytes.Equal(re, frame) {
			t.Fatalf("%v: encoding is not a fixpoint: %x then %x", wire.Op(op), frame, re)
		}

		// Trailing bytes after a canonical encoding.
		long := append(bytes.Clone(canon), junk...)
		withJunk := newFields(wire.Op(op))
		err := withJunk.decode(long)
		if err == nil && reflect.DeepEqual(withJunk, got) {
			return
		}
		if !optionalGroup[wire.Op(op)] {
			t.Fatalf("%v: %x with trailing %x: %+v, %v; want %+v", wire.Op(op), canon, junk, withJunk, err, got)
		}
		// The junk was read as the optional group: only possible when the
		// canonical encoding left the group out, so it now encodes longer.
		if err == nil {
			if n := len(encodeFields(t, withJunk, wire.Op(op), seq)); n <= len(frame) {
				t.Fatalf("%v: %x with trailing %x changed to %+v without adding the optional group", wire.Op(op), canon, junk, withJunk)
			}
		} else if !errors.Is(err, wire.ErrMalformed) {
			t.Fatalf("%v: error %v does not wrap ErrMalformed", wire.Op(op), err)
		}
	})
}

// optionalGroup lists the ops whose body ends with an optional group
// (revision 2 positions, revision 4 push flags, revision 5 Auth joins and
// AuthOK revision), which trailing bytes may
// fill.
var optionalGroup = map[wire.Op]bool{wire.OpAuth: true, wire.OpAuthOK: true, wire.OpJoinOK: true, wire.OpPush: true, wire.OpSubscribed: true}

// encodeFields encodes f as a whole frame with seq, or with seq 0 for the ops
// whose encoders always write 0 (server pushes).
func encodeFields(t *testing.T, f fields, op wire.Op, seq uint32) []byte {
	t.Helper()
	b, err := f.appendFrame(nil, op, seq)
	if err != nil {
		if b, err = f.appendFrame(nil, op, 0); err != nil {
			t.Fatalf("%v: encode %+v: %v", op, f, err)
		}
		seq = 0
	}
	h, _, rest, ok, err := wire.Split(b, len(b))
	if err != nil || !ok || len(rest) != 0 || h.Op != op || h.Seq != seq {
		t.Fatalf("%v: encoded frame %x does not split back: %+v ok=%v err=%v", op, b, h, ok, err)
	}
	return b
}

// decodable is a message with a Decode method.
type decodable interface{ Decode(body []byte) error }

// dirtyValues holds, per op, a value of its message type with every field
// set, to decode into as if it were reused.
var dirtyValues = map[wire.Op]decodable{
	wire.OpAuth:       &wire.Auth{Version: 9, Token: "old", Offset: 9, Epoch: "old"},
	wire.OpAuthOK:     &wire.AuthOK{ConnKey: "old", User: "old", PingIntervalMs: 9, MaxFrame: 9, Recovery: wire.RecoveryNotRecovered, Offset: 9, Epoch: "old"},
	wire.OpJoin:       &wire.Join{Room: "old", Offset: 9, Epoch: "old"},
	wire.OpJoinOK:     &wire.JoinOK{Room: "old", Recovery: wire.RecoveryRecovered, Offset: 9, Epoch: "old"},
	wire.OpLeave:      &wire.RoomReply{Room: "old"},
	wire.OpLeaveOK:    &wire.RoomReply{Room: "old"},
	wire.OpPush:       &wire.Push{Kind: wire.PushBroadcast, Room: "old", ID: "old", Offset: 9, Epoch: "old", Data: []byte("old")},
	wire.OpError:      &wire.Error{Code: 9, Message: "old"},
	wire.OpDisconnect: &wire.Disconnect{Code: 9, Reason: "old"},
}

// checkDirtyDecode decodes body into a fresh value and into a reused one:
// both must agree. For JoinOK it also checks that RoomReply reads the room
// of every JoinOK body, as the decoder documents.
func checkDirtyDecode(t *testing.T, op wire.Op, body []byte) {
	t.Helper()
	dirty, ok := dirtyValues[op]
	if !ok {
		return
	}
	typ := reflect.TypeOf(dirty).Elem()
	used := reflect.New(typ)
	used.Elem().Set(reflect.ValueOf(dirty).Elem())
	fresh := reflect.New(typ).Interface().(decodable)
	errFresh := fresh.Decode(body)
	errUsed := used.Interface().(decodable).Decode(body)
	if (errFresh == nil) != (errUsed == nil) {
		t.Fatalf("%v body %x: fresh value: %v, reused value: %v", op, body, errFresh, errUsed)
	}
	if errFresh == nil && !reflect.DeepEqual(fresh, used.Interface()) {
		t.Fatalf("%v body %x: fresh value %+v, reused value %+v", op, body, fresh, used.Interface())
	}
	if op == wire.OpJoinOK && errFresh == nil {
		var r wire.RoomReply
		if err := r.Decode(body); err != nil || r.Room != fresh.(*wire.JoinOK).Room {
			t.Fatalf("join_ok body %x: RoomReply read %q, %v; JoinOK read %+v", body, r.Room, err, fresh)
		}
	}
}
