package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// hook is one hook's HTTP JSON transport with its limits: the timeout, the
// bound on calls in flight (a buffered channel used as a semaphore, tried
// without waiting) and the breaker.
type hook struct {
	name    string
	url     string
	timeout time.Duration
	slots   chan struct{}
	brk     *breaker
	c       *Client
}

func newHook(name string, hc HookConfig, c *Client) (*hook, error) {
	if hc.URL == "" {
		return nil, nil
	}
	if err := validURL(hc.URL); err != nil {
		return nil, fmt.Errorf("proxy: %s URL: %w", name, err)
	}
	if hc.Timeout <= 0 {
		hc.Timeout = DefaultTimeout
	}
	if hc.MaxInFlight <= 0 {
		hc.MaxInFlight = DefaultMaxInFlight
	}
	if hc.BreakerFailures <= 0 {
		hc.BreakerFailures = DefaultBreakerFailures
	}
	if hc.BreakerCoolDown <= 0 {
		hc.BreakerCoolDown = DefaultBreakerCoolDown
	}
	h := &hook{name: name, url: hc.URL, timeout: hc.Timeout, slots: make(chan struct{}, hc.MaxInFlight), c: c}
	gauge := c.m.breakerOpen.WithLabelValues(name)
	gauge.Set(0)
	h.brk = newBreaker(hc.BreakerFailures, hc.BreakerCoolDown, func(open bool) {
		if open {
			gauge.Set(1)
			c.log.Warn("proxy hook failing, circuit breaker open", "hook", name, "cool_down", hc.BreakerCoolDown)
		} else {
			gauge.Set(0)
			c.log.Info("proxy hook answering again, circuit breaker closed", "hook", name)
		}
	})
	return h, nil
}

// call POSTs req as JSON and decodes the reply into answer, which check then
// validates. Any failure is counted against the breaker and returned as one
// of the package's errors; the reply's outcome is counted by the caller.
func (h *hook) call(ctx context.Context, req, answer any, check func() error) error {
	m := h.c.m
	select {
	case h.slots <- struct{}{}:
	default:
		m.calls.WithLabelValues(h.name, "overloaded").Inc()
		return ErrOverloaded
	}
	defer func() { <-h.slots }()
	if !h.brk.allow() {
		m.calls.WithLabelValues(h.name, "breaker_open").Inc()
		return ErrBreakerOpen
	}
	inFlight := m.inFlight.WithLabelValues(h.name)
	inFlight.Inc()
	start := time.Now()
	err := h.post(ctx, req, answer)
	if err == nil {
		if cerr := check(); cerr != nil {
			err = fmt.Errorf("%w: %s hook: bad reply: %v", ErrUnavailable, h.name, cerr)
		}
	}
	inFlight.Dec()
	m.latency.WithLabelValues(h.name).Observe(time.Since(start).Seconds())
	h.brk.done(err == nil)
	if err != nil {
		outcome := "error"
		if errors.Is(err, context.DeadlineExceeded) {
			outcome = "timeout"
		}
		m.calls.WithLabelValues(h.name, outcome).Inc()
		h.c.log.Warn("proxy hook call failed", "hook", h.name, "err", err)
		if !errors.Is(err, ErrUnavailable) {
			err = fmt.Errorf("%w: %s hook: %w", ErrUnavailable, h.name, err)
		}
		return err
	}
	return nil
}

// post is one HTTP exchange within the hook's timeout.
func (h *hook) post(ctx context.Context, req, answer any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, vs := range h.c.cfg.Header {
		hr.Header[k] = vs
	}
	hr.Header.Set("Content-Type", "application/json")
	rsp, err := h.c.cfg.HTTPClient.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			// The URL error may hold the URL; the cause is what matters.
			return fmt.Errorf("%w after %v", context.DeadlineExceeded, h.timeout)
		}
		return err
	}
	defer rsp.Body.Close()
	if rsp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(rsp.Body, maxReplyBytes))
		return fmt.Errorf("status %d", rsp.StatusCode)
	}
	dec := json.NewDecoder(io.LimitReader(rsp.Body, maxReplyBytes))
	if err := dec.Decode(answer); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w after %v", context.DeadlineExceeded, h.timeout)
		}
		return fmt.Errorf("reply: %v", err)
	}
	return nil
}
