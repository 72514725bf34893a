package store

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// errLogEvery is how often one failing operation is logged while Redis stays
// unreachable: heartbeats and retries fail several times a second, and an
// outage must not flood the logs.
const errLogEvery = 10 * time.Second

// errLog counts Redis failures by operation and logs them at most once per
// errLogEvery per operation, then once more when the operation recovers.
type errLog struct {
	log    *slog.Logger
	errors *prometheus.CounterVec
	// failing counts ops in the failing state, so that ok, called on every
	// successful lookup, costs one atomic load while all is well.
	failing atomic.Int32

	mu  sync.Mutex
	ops map[string]*errState
}

type errState struct {
	failing       bool
	lastLogged    time.Time // last failure logged
	lastRecovered time.Time // last recovery logged
	suppressed    int
}

func newErrLog(log *slog.Logger, errors *prometheus.CounterVec) *errLog {
	return &errLog{log: log, errors: errors, ops: make(map[string]*errState)}
}

// fail records a failed op.
func (l *errLog) fail(op string, err error) {
	l.errors.WithLabelValues(op).Inc()
	l.mu.Lock()
	s := l.ops[op]
	if s == nil {
		s = &errState{}
		l.ops[op] = s
	}
	if !s.failing {
		s.failing = true
		l.failing.Add(1)
	}
	now := time.Now()
	if now.Sub(s.lastLogged) < errLogEvery {
		s.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := s.suppressed
	s.lastLogged, s.suppressed = now, 0
	l.mu.Unlock()
	l.log.Warn("redis operation failed", "op", op, "err", err, "suppressed", suppressed)
}

// ok records a successful op, logging the recovery of a failing one.
func (l *errLog) ok(op string) {
	if l.failing.Load() == 0 {
		return
	}
	l.mu.Lock()
	s := l.ops[op]
	if s == nil || !s.failing {
		l.mu.Unlock()
		return
	}
	s.failing = false
	l.failing.Add(-1)
	// A flapping Redis must not flood the logs with recoveries either.
	now := time.Now()
	if now.Sub(s.lastRecovered) < errLogEvery {
		l.mu.Unlock()
		return
	}
	s.lastRecovered = now
	l.mu.Unlock()
	l.log.Info("redis operation recovered", "op", op)
}

func discardLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
