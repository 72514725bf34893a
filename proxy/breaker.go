package proxy

import (
	"sync"
	"time"
)

// breaker is a consecutive-failure circuit breaker. Closed, it lets every
// call through and counts failures in a row; at threshold it opens for
// coolDown, during which calls fail fast without reaching the backend; then
// it lets one trial call through (half-open): success closes it, failure
// opens it for another coolDown. A backend that is down thus costs one call
// per coolDown, not one per client, and a backend that recovers is used again
// within one coolDown.
//
// Hand-written rather than a library: the policy is a dozen lines, and the
// metrics need its state changes.
type breaker struct {
	threshold int
	coolDown  time.Duration
	now       func() time.Time
	onChange  func(open bool)

	mu       sync.Mutex
	failures int       // consecutive failures while closed
	openTill time.Time // zero while closed
	trial    bool      // a half-open trial call is under way
}

func newBreaker(threshold int, coolDown time.Duration, onChange func(open bool)) *breaker {
	return &breaker{threshold: threshold, coolDown: coolDown, now: time.Now, onChange: onChange}
}

// allow reports whether a call may go to the backend. A true answer must be
// followed by done.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openTill.IsZero() {
		return true
	}
	if b.trial || b.now().Before(b.openTill) {
		return false
	}
	b.trial = true
	return true
}

// done records a call's outcome: ok is false when the backend failed (an
// error, a timeout, a malformed reply), not when it refused a client.
func (b *breaker) done(ok bool) {
	b.mu.Lock()
	changed, open := false, false
	switch {
	case ok:
		b.failures = 0
		if !b.openTill.IsZero() {
			b.openTill, b.trial = time.Time{}, false
			changed, open = true, false
		}
	case !b.openTill.IsZero():
		// A failed trial (or a call let through before the breaker opened):
		// another cool-down.
		b.openTill, b.trial = b.now().Add(b.coolDown), false
	default:
		b.failures++
		if b.failures >= b.threshold {
			b.failures = 0
			b.openTill = b.now().Add(b.coolDown)
			changed, open = true, true
		}
	}
	b.mu.Unlock()
	if changed && b.onChange != nil {
		b.onChange(open)
	}
}

// isOpen reports whether calls currently fail fast (open, or half-open with
// its trial under way).
func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.openTill.IsZero()
}
