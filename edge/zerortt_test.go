package edge

import (
	"testing"

	"github.com/quicpush/quicpush/wire"
)

// Only ops whose effect stays within the new session are served from 0-RTT
// data before the handshake completes; every other op waits for it.
func TestReplaySafeOps(t *testing.T) {
	for op := range wire.Op(0x20) {
		want := op == wire.OpAuth || op == wire.OpJoin || op == wire.OpLeave || op == wire.OpPing || op == wire.OpPong
		if got := replaySafe(op); got != want {
			t.Errorf("replaySafe(%v) = %v, want %v", op, got, want)
		}
	}
}
