package history_test

import (
	"testing"

	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/history/historytest"
)

func TestMemory(t *testing.T) {
	historytest.Run(t, func(t *testing.T, p history.Policies) history.Store {
		m := history.NewMemory(p)
		t.Cleanup(func() { _ = m.Close() })
		return m
	})
}
