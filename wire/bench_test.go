package wire_test

import (
	"testing"

	"github.com/quicpush/quicpush/wire"
)

// benchPush is a typical room push: the payload of the goim and Centrifugo
// anchors ({"test":1,"t":...}) with a stream position.
var benchPush = &wire.Push{
	Kind: wire.PushRoom, Room: "room-1", ID: "01J9Z3K7M2Q8", Offset: 123456, Epoch: "e7",
	Data: []byte(`{"test":1,"t":1767225600123}`),
}

func BenchmarkAppendPush(b *testing.B) {
	buf := make([]byte, 0, wire.PushSize(benchPush))
	b.SetBytes(int64(cap(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = wire.AppendPush(buf[:0], benchPush)
	}
}

// BenchmarkAppendPushBatch encodes 20 pushes into one buffer sized with
// PushSize, as the edge does for a merged batch.
func BenchmarkAppendPushBatch(b *testing.B) {
	const n = 20
	size := 0
	for range n {
		size += wire.PushSize(benchPush)
	}
	buf := make([]byte, 0, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for range n {
			buf = wire.AppendPush(buf, benchPush)
		}
	}
}

// BenchmarkSplit splits a batch of 20 pushes, as a WebSocket client does
// with one message.
func BenchmarkSplit(b *testing.B) {
	var batch []byte
	for range 20 {
		batch = wire.AppendPush(batch, benchPush)
	}
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		rest := batch
		for len(rest) > 0 {
			_, _, r, ok, err := wire.Split(rest, 0)
			if !ok || err != nil {
				b.Fatal(ok, err)
			}
			rest = r
		}
	}
}

// BenchmarkPushDecode decodes one push body; Room, ID and Epoch are copied
// into strings, Data aliases the body.
func BenchmarkPushDecode(b *testing.B) {
	body := wire.AppendPush(nil, benchPush)[wire.HeaderSize:]
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var m wire.Push
	for b.Loop() {
		if err := m.Decode(body); err != nil {
			b.Fatal(err)
		}
	}
}
