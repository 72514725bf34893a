package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// backend is an httptest backend whose answer a test sets per call.
type backend struct {
	*httptest.Server
	mu      sync.Mutex
	answer  func(w http.ResponseWriter, body map[string]any)
	headers http.Header
	calls   int
}

func newBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &body)
		b.mu.Lock()
		b.calls++
		b.headers = r.Header.Clone()
		answer := b.answer
		b.mu.Unlock()
		answer(w, body)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) set(f func(w http.ResponseWriter, body map[string]any)) {
	b.mu.Lock()
	b.answer = f
	b.mu.Unlock()
}

func (b *backend) reply(s string) {
	b.set(func(w http.ResponseWriter, _ map[string]any) { _, _ = io.WriteString(w, s) })
}

func (b *backend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

func newClient(t *testing.T, cfg Config) (*Client, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, reg
}

func TestConnect(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	c, reg := newClient(t, Config{Connect: HookConfig{URL: b.URL, BreakerFailures: 100}, Header: http.Header{"X-Api-Key": {"secret"}}})
	ctx := context.Background()

	b.set(func(w http.ResponseWriter, body map[string]any) {
		if body["token"] != "sess-1" || body["ip"] != "10.0.0.1" || body["transport"] != "tcp" || body["edge"] != "e1" {
			http.Error(w, "bad request body", http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, `{"result":{"user":"ann","expire_at":4102444800,"rooms":["chat:*"],"info":{"name":"Ann"}}}`)
	})
	r, err := c.Connect(ctx, ConnectRequest{Token: "sess-1", IP: "10.0.0.1", Transport: "tcp", Edge: "e1"})
	if err != nil {
		t.Fatal(err)
	}
	if r.User != "ann" || r.Expires.Unix() != 4102444800 || len(r.Rooms) != 1 || r.Rooms[0] != "chat:*" || string(r.Info) != `{"name":"Ann"}` || r.Disconnect.Code != 0 {
		t.Fatalf("reply %+v", r)
	}
	if got := b.headers.Get("X-Api-Key"); got != "secret" {
		t.Fatalf("header X-Api-Key %q", got)
	}

	b.reply(`{"disconnect":{"code":3500,"reason":"unknown session"}}`)
	r, err = c.Connect(ctx, ConnectRequest{Token: "nope"})
	if err != nil || r.Disconnect.Code != 3500 || r.Disconnect.Reason != "unknown session" {
		t.Fatalf("refusal: %+v, %v", r, err)
	}

	// Answers that break the rules are the backend's failure.
	for _, bad := range []string{
		`{"result":{}}`,                        // no user for a client without a JWT
		`{"disconnect":{"code":1000}}`,         // not a disconnect code
		`{}`,                                   // neither
		`not json`,                             // not JSON
		`{"result":{"user":"a","rooms":[""]}}`, // empty pattern
		`{"result":{"user":"` + strings.Repeat("u", 256) + `"}}`,
	} {
		b.reply(bad)
		if _, err := c.Connect(ctx, ConnectRequest{Token: "x"}); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("%s: err %v, want ErrUnavailable", bad, err)
		}
	}
	// A verified JWT's user may not be replaced.
	b.reply(`{"result":{"user":"bob"}}`)
	if _, err := c.Connect(ctx, ConnectRequest{User: "ann"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("other user: %v", err)
	}
	b.reply(`{"result":{"rooms":["x"]}}`)
	if r, err := c.Connect(ctx, ConnectRequest{User: "ann"}); err != nil || r.User != "ann" {
		t.Fatalf("enrichment: %+v %v", r, err)
	}
	b.set(func(w http.ResponseWriter, _ map[string]any) { http.Error(w, "down", http.StatusServiceUnavailable) })
	if _, err := c.Connect(ctx, ConnectRequest{Token: "x"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("503: %v", err)
	}
	if got := testutil.ToFloat64(c.m.calls.WithLabelValues("connect", "ok")); got != 2 {
		t.Fatalf("ok calls %v", got)
	}
	b.reply(`{"disconnect":{"code":3500,"reason":"` + strings.Repeat("é", 200) + `"}}`)
	if r, err := c.Connect(ctx, ConnectRequest{Token: "x"}); err != nil || len(r.Disconnect.Reason) > 255 || !utf8.ValidString(r.Disconnect.Reason) {
		t.Fatalf("long reason: %d bytes, %v", len(r.Disconnect.Reason), err)
	}
	if got := testutil.ToFloat64(c.m.calls.WithLabelValues("connect", "error")); got != 8 {
		t.Fatalf("error calls %v", got)
	}
	if n, err := testutil.GatherAndCount(reg, "quicpush_proxy_call_duration_seconds"); err != nil || n != 1 {
		t.Fatalf("latency series %d, %v", n, err)
	}
}

func TestJoin(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	c, _ := newClient(t, Config{Join: HookConfig{URL: b.URL}, JoinRooms: []string{"vip:*", "lobby"}})
	for room, want := range map[string]bool{"vip:1": true, "vip:": true, "lobby": true, "lobby2": false, "news": false} {
		if got := c.JoinDecides(room); got != want {
			t.Errorf("JoinDecides(%q) = %v", room, got)
		}
	}
	ctx := context.Background()
	b.set(func(w http.ResponseWriter, body map[string]any) {
		switch body["user"] {
		case "ann":
			_, _ = io.WriteString(w, `{"result":{}}`)
		case "bob":
			_, _ = io.WriteString(w, `{"error":{"message":"not a member"}}`)
		default:
			_, _ = io.WriteString(w, `{"disconnect":{"code":3504,"reason":"banned"}}`)
		}
	})
	req := JoinRequest{User: "ann", ConnKey: "e.1", Room: "vip:1"}
	if r, err := c.Join(ctx, req); err != nil || !r.Allow {
		t.Fatalf("allow: %+v %v", r, err)
	}
	req.User = "bob"
	if r, err := c.Join(ctx, req); err != nil || r.Allow || r.Reason != "not a member" {
		t.Fatalf("deny: %+v %v", r, err)
	}
	req.User = "eve"
	if r, err := c.Join(ctx, req); err != nil || r.Allow || r.Disconnect.Code != 3504 {
		t.Fatalf("disconnect: %+v %v", r, err)
	}
	if c.ConnectEnabled() {
		t.Fatal("connect hook on without a URL")
	}
}

// TestTimeoutAndBreaker: a backend that hangs costs one timeout per call
// until BreakerFailures in a row open the breaker; then calls fail fast
// without reaching it, and after the cool-down one trial call closes the
// breaker again once the backend answers.
func TestTimeoutAndBreaker(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	b.set(func(http.ResponseWriter, map[string]any) { <-release })
	c, reg := newClient(t, Config{Connect: HookConfig{URL: b.URL, Timeout: 50 * time.Millisecond, BreakerFailures: 3, BreakerCoolDown: time.Hour}})
	now := time.Now()
	c.connect.brk.now = func() time.Time { return now }
	ctx := context.Background()
	for i := range 3 {
		_, err := c.Connect(ctx, ConnectRequest{Token: "x"})
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("call %d: %v, want a timeout", i, err)
		}
	}
	if got := testutil.ToFloat64(c.m.breakerOpen.WithLabelValues("connect")); got != 1 {
		t.Fatalf("breaker_open %v", got)
	}
	reached := b.count()
	for range 10 {
		if _, err := c.Connect(ctx, ConnectRequest{Token: "x"}); !errors.Is(err, ErrBreakerOpen) {
			t.Fatalf("open breaker: %v", err)
		}
	}
	if b.count() != reached {
		t.Fatalf("an open breaker let %d calls through", b.count()-reached)
	}
	// The cool-down ends; the backend is back.
	b.reply(`{"result":{"user":"ann"}}`)
	now = now.Add(time.Hour + time.Second)
	if r, err := c.Connect(ctx, ConnectRequest{Token: "x"}); err != nil || r.User != "ann" {
		t.Fatalf("trial call: %+v %v", r, err)
	}
	if got := testutil.ToFloat64(c.m.breakerOpen.WithLabelValues("connect")); got != 0 {
		t.Fatalf("breaker_open %v after recovery", got)
	}
	if got := testutil.ToFloat64(c.m.calls.WithLabelValues("connect", "timeout")); got != 3 {
		t.Fatalf("timeouts %v", got)
	}
	if n, _ := testutil.GatherAndCount(reg, "quicpush_proxy_calls_total"); n < 3 {
		t.Fatalf("calls series %d", n)
	}
}

func TestBreakerTrialFails(t *testing.T) {
	t.Parallel()
	now := time.Now()
	var changes []bool
	b := newBreaker(2, time.Second, func(open bool) { changes = append(changes, open) })
	b.now = func() time.Time { return now }
	b.done(false)
	if !b.allow() {
		t.Fatal("one failure opened it")
	}
	b.done(true) // resets the count
	b.done(false)
	b.done(false)
	if b.allow() {
		t.Fatal("two failures in a row left it closed")
	}
	now = now.Add(time.Second)
	if !b.allow() {
		t.Fatal("no trial after the cool-down")
	}
	if b.allow() {
		t.Fatal("a second call during the trial")
	}
	b.done(false)
	if b.allow() {
		t.Fatal("a failed trial closed it")
	}
	now = now.Add(time.Second)
	if !b.allow() {
		t.Fatal("no second trial")
	}
	b.done(true)
	first, second := b.allow(), b.allow()
	if !first || !second || b.isOpen() {
		t.Fatal("a good trial left it open")
	}
	if len(changes) != 2 || !changes[0] || changes[1] {
		t.Fatalf("state changes %v", changes)
	}
}

// TestMaxInFlight: past MaxInFlight calls under way, a call fails at once
// with ErrOverloaded, and the slots come back when calls end.
func TestMaxInFlight(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	arrived := make(chan struct{}, 4)
	release := make(chan struct{})
	b.set(func(w http.ResponseWriter, _ map[string]any) {
		arrived <- struct{}{}
		<-release
		_, _ = io.WriteString(w, `{"result":{}}`)
	})
	c, _ := newClient(t, Config{Join: HookConfig{URL: b.URL, MaxInFlight: 2, Timeout: 10 * time.Second}})
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if r, err := c.Join(ctx, JoinRequest{User: "u", Room: "r"}); err != nil || !r.Allow {
				t.Errorf("join: %+v %v", r, err)
			}
		})
	}
	<-arrived
	<-arrived
	if got := testutil.ToFloat64(c.m.inFlight.WithLabelValues("join")); got != 2 {
		t.Fatalf("in flight %v", got)
	}
	if _, err := c.Join(ctx, JoinRequest{User: "u", Room: "r"}); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("third call: %v, want ErrOverloaded", err)
	}
	close(release)
	wg.Wait()
	if r, err := c.Join(ctx, JoinRequest{User: "u", Room: "r"}); err != nil || !r.Allow {
		t.Fatalf("after the calls ended: %+v %v", r, err)
	}
	if got := testutil.ToFloat64(c.m.calls.WithLabelValues("join", "overloaded")); got != 1 {
		t.Fatalf("overloaded %v", got)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{Connect: HookConfig{URL: "ftp://x"}},
		{Connect: HookConfig{URL: "/relative"}},
		{ConnectMode: "sometimes"},
		{Join: HookConfig{URL: "http://x"}, JoinRooms: []string{"a*b"}},
		{Join: HookConfig{URL: "http://x"}, JoinRooms: []string{""}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	c, err := New(Config{})
	if err != nil || c.ConnectEnabled() || c.JoinDecides("x") || (Config{}).Enabled() {
		t.Fatalf("zero config: %v", err)
	}
}
