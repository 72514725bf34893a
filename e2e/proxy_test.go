package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	quicpush "github.com/quicpush/quicpush/clients/go"
	proxyv1 "github.com/quicpush/quicpush/gen/quicpush/proxy/v1"
	"github.com/quicpush/quicpush/gen/quicpush/proxy/v1/proxyv1connect"
	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/proxy"
	"github.com/quicpush/quicpush/server"
	"github.com/quicpush/quicpush/wire"
)

// hookBackend is the application's backend as the proxy hooks see it: an
// httptest server whose connect and join answers the test sets.
type hookBackend struct {
	*httptest.Server
	connect, join atomic.Pointer[func(w http.ResponseWriter, body map[string]any)]
	connects      atomic.Int64
	joins         atomic.Int64
	mu            sync.Mutex
	last          map[string]any // the last connect request
}

func newHookBackend(t *testing.T) *hookBackend {
	t.Helper()
	b := &hookBackend{}
	mux := http.NewServeMux()
	serve := func(count *atomic.Int64, answer *atomic.Pointer[func(http.ResponseWriter, map[string]any)], keep bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Api-Key") != "hook-key" {
				http.Error(w, "no api key", http.StatusUnauthorized)
				return
			}
			var body map[string]any
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			count.Add(1)
			if keep {
				b.mu.Lock()
				b.last = body
				b.mu.Unlock()
			}
			(*answer.Load())(w, body)
		}
	}
	mux.Handle("/connect", serve(&b.connects, &b.connect, true))
	mux.Handle("/join", serve(&b.joins, &b.join, false))
	b.Server = httptest.NewServer(mux)
	t.Cleanup(b.Close)
	// The default answers: a session id "sess-USER" is USER, allowed
	// team:*; "user" is the user's name, "room" the room, and a room named
	// after the user is allowed, "ban" disconnects, the rest is denied.
	b.onConnect(func(w http.ResponseWriter, body map[string]any) {
		tok, _ := body["token"].(string)
		if user, ok := strings.CutPrefix(tok, "sess-"); ok {
			_, _ = io.WriteString(w, `{"result":{"user":"`+user+`","rooms":["team:*"],"info":{"plan":"pro"}}}`)
			return
		}
		_, _ = io.WriteString(w, `{"disconnect":{"code":3500,"reason":"unknown session"}}`)
	})
	b.onJoin(func(w http.ResponseWriter, body map[string]any) {
		room, _ := body["room"].(string)
		user, _ := body["user"].(string)
		switch room {
		case "vip:ban":
			_, _ = io.WriteString(w, `{"disconnect":{"code":3504,"reason":"banned"}}`)
		case "vip:" + user:
			_, _ = io.WriteString(w, `{"result":{}}`)
		default:
			_, _ = io.WriteString(w, `{"error":{"message":"not your room"}}`)
		}
	})
	return b
}

func (b *hookBackend) onConnect(f func(http.ResponseWriter, map[string]any)) { b.connect.Store(&f) }
func (b *hookBackend) onJoin(f func(http.ResponseWriter, map[string]any))    { b.join.Store(&f) }

func (b *hookBackend) lastConnect() map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// proxyServer is a server whose hooks call b, tuned by tune.
func proxyServer(t *testing.T, b *hookBackend, tune func(*proxy.Config)) *testServer {
	t.Helper()
	return startServer(t, func(c *server.SingleConfig) {
		c.Edge.ID = "edge-p"
		c.Proxy = proxy.Config{
			Connect: proxy.HookConfig{URL: b.URL + "/connect"},
			Join:    proxy.HookConfig{URL: b.URL + "/join"},
			// Rooms "vip:*" are the hook's; the rest keep the token's rule.
			JoinRooms: []string{"vip:*"},
			Header:    http.Header{"X-Api-Key": {"hook-key"}},
		}
		if tune != nil {
			tune(&c.Proxy)
		}
	})
}

func expectErrorCode(t *testing.T, c rawConn, seq uint32, code wire.Code) wire.Error {
	t.Helper()
	h, body := expectFrame(t, c, wire.OpError)
	var e wire.Error
	if err := e.Decode(body); err != nil || e.Code != code || h.Seq != seq {
		t.Fatalf("error %+v seq %d (%v), want code %d seq %d", e, h.Seq, err, code, seq)
	}
	return e
}

// TestProxyConnectWithoutJWT: a client whose Auth carries a session id,
// not a JWT, is authenticated by the connect hook on every transport: the
// hook names the user and the rooms, and the edge told it the client's IP,
// transport and the edge's id.
func TestProxyConnectWithoutJWT(t *testing.T) {
	b := newHookBackend(t)
	srv := proxyServer(t, b, nil)
	api := srv.apiClient()
	for _, kind := range transports {
		t.Run(kind, func(t *testing.T) {
			user := "ann-" + kind
			c := dialRaw(t, srv, kind)
			ok := authenticate(t, c, "sess-"+user)
			if ok.User != user {
				t.Fatalf("AuthOK user %q, want %q", ok.User, user)
			}
			req := b.lastConnect()
			if req["token"] != "sess-"+user || req["ip"] != "127.0.0.1" || req["transport"] != kind || req["edge"] != "edge-p" {
				t.Fatalf("connect request %v", req)
			}
			join(t, c, 2, "team:1")
			id := pushRoom(t, api, "team:1", "hello "+kind)
			if p := expectPush(t, c); p.ID != id {
				t.Fatalf("push %q, want %q", p.ID, id)
			}
			// A room neither the hook nor a token granted.
			if err := c.write(wire.AppendJoin(nil, 3, &wire.Join{Room: "elsewhere"})); err != nil {
				t.Fatal(err)
			}
			expectErrorCode(t, c, 3, wire.ErrCodeForbidden)
		})
	}
}

// TestProxyConnectRefuses: the hook's disconnect code reaches the client;
// an expired JWT is refused with 3004 without asking the hook.
func TestProxyConnectRefuses(t *testing.T) {
	b := newHookBackend(t)
	srv := proxyServer(t, b, nil)
	for _, kind := range []string{"tcp", "quic"} {
		c := dialRaw(t, srv, kind)
		if err := c.write(wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "stolen"})); err != nil {
			t.Fatal(err)
		}
		expectDisconnect(t, c, wire.CodeInvalidToken)
	}
	b.onConnect(func(w http.ResponseWriter, _ map[string]any) {
		_, _ = io.WriteString(w, `{"disconnect":{"code":3006,"reason":"try later"}}`)
	})
	c := dialRaw(t, srv, "tcp")
	if err := c.write(wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "x"})); err != nil {
		t.Fatal(err)
	}
	expectDisconnect(t, c, wire.CodeServerDisconnect)

	before := b.connects.Load()
	expired, err := auth.Sign(testSecret, "", auth.NewClaims("late", nil, -time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c = dialRaw(t, srv, "tcp")
	if err := c.write(wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: expired})); err != nil {
		t.Fatal(err)
	}
	expectDisconnect(t, c, wire.CodeTokenExpired)
	if b.connects.Load() != before {
		t.Fatal("the hook was asked about an expired JWT")
	}
	// A valid JWT needs no hook in the default mode.
	authenticate(t, dialRaw(t, srv, "quic"), token(t, "jwt-user", "x"))
	if b.connects.Load() != before {
		t.Fatal("the hook was asked about a verified JWT in no-jwt mode")
	}
}

// TestProxyConnectEnrichesJWT: in "always" mode the hook sees verified JWTs
// too (user and rooms, not asked to name the user), adds a room, and its info
// is what Presence shows for the connection.
func TestProxyConnectEnrichesJWT(t *testing.T) {
	b := newHookBackend(t)
	b.onConnect(func(w http.ResponseWriter, body map[string]any) {
		if body["user"] != "bob" {
			http.Error(w, "want bob", http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, `{"result":{"rooms":["extra"],"info":{"plan":"gold"}}}`)
	})
	srv := proxyServer(t, b, func(c *proxy.Config) { c.ConnectMode = proxy.ConnectAlways })
	for _, kind := range []string{"tcp", "quic"} {
		c := dialRaw(t, srv, kind)
		if ok := authenticate(t, c, token(t, "bob", "mine")); ok.User != "bob" {
			t.Fatalf("user %q", ok.User)
		}
		join(t, c, 2, "mine")
		join(t, c, 3, "extra")
	}
	if n := b.connects.Load(); n != 2 {
		t.Fatalf("%d connect calls, want 2", n)
	}
	listed, _ := presenceOf(t, srv.apiClient(), "extra")
	if len(listed) != 2 {
		t.Fatalf("presence of extra: %q, want bob's two connections", listed)
	}
	for _, l := range listed {
		if !strings.HasPrefix(l, "bob:") || !strings.HasSuffix(l, ` {"plan":"gold"}`) {
			t.Fatalf("presence entry %q, want bob with the hook's info", l)
		}
	}
}

// TestProxyConnectTimeoutReconnects: a backend slower than the hook's
// timeout costs the client a 3001, and the Go client reconnects with
// backoff until the backend answers in time again.
func TestProxyConnectTimeoutReconnects(t *testing.T) {
	b := newHookBackend(t)
	srv := proxyServer(t, b, func(c *proxy.Config) {
		c.Connect.Timeout = 100 * time.Millisecond
		c.Connect.BreakerFailures = 1000
	})
	api := srv.apiClient()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, kind := range []string{"tcp", "quic"} {
		t.Run(kind, func(t *testing.T) {
			user := "slow-" + kind
			in := &inbox{}
			endpoint := kind + "://" + srv.tcp
			if kind == "quic" {
				endpoint = kind + "://" + srv.quic
			}
			c := goClient(t, srv, []string{endpoint}, "sess-"+user, in, quicpush.WithBackoff(10*time.Millisecond, 50*time.Millisecond))
			if err := c.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			// The backend hangs until released; the next connects time out.
			release := make(chan struct{})
			healthy := b.connect.Load()
			var slow atomic.Int64
			defer b.onConnect(*healthy)
			b.onConnect(func(w http.ResponseWriter, body map[string]any) {
				slow.Add(1)
				select {
				case <-release:
				case <-time.After(5 * time.Second):
				}
				(*healthy)(w, body)
			})
			if _, err := api.Disconnect(ctx, connect.NewRequest(&pushv1.DisconnectRequest{Users: []string{user}, Reconnect: true})); err != nil {
				t.Fatal(err)
			}
			// Each attempt that reaches the hook past the first means the
			// one before it was refused (3001 after the timeout) and the
			// client came back.
			waitFor(t, "retries after the hook's timeouts", func() bool { return slow.Load() >= 3 })
			b.onConnect(*healthy)
			close(release)
			waitFor(t, "the reconnect", func() bool { return in.connects() >= 2 && c.Transport() == kind })
		})
	}
	if v := labelledValue(t, srv, "quicpush_proxy_calls_total", map[string]string{"hook": "connect", "outcome": "timeout"}); v < 4 {
		t.Fatalf("%v timeouts counted, want at least 4", v)
	}
	if v := labelledValue(t, srv, "quicpush_edge_disconnects_total", map[string]string{"code": "3001"}); v < 4 {
		t.Fatalf("%v disconnects with 3001, want at least 4", v)
	}
}

// TestProxyBreakerOpensAndRecovers: failures in a row open the connect
// hook's breaker; while open, connections are refused with 3001 without a
// call to the backend; after the cool-down a good answer closes it.
func TestProxyBreakerOpensAndRecovers(t *testing.T) {
	b := newHookBackend(t)
	healthy := b.connect.Load()
	b.onConnect(func(w http.ResponseWriter, _ map[string]any) { http.Error(w, "down", http.StatusInternalServerError) })
	srv := proxyServer(t, b, func(c *proxy.Config) {
		c.Connect.BreakerFailures = 3
		c.Connect.BreakerCoolDown = 300 * time.Millisecond
	})
	refused := func(kind string) {
		t.Helper()
		c := dialRaw(t, srv, kind)
		if err := c.write(wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "sess-x"})); err != nil {
			t.Fatal(err)
		}
		expectDisconnect(t, c, wire.CodeServerError)
	}
	for _, kind := range []string{"tcp", "quic", "tcp"} {
		refused(kind)
	}
	if n := b.connects.Load(); n != 3 {
		t.Fatalf("%d calls, want 3", n)
	}
	open := map[string]string{"hook": "connect"}
	if v := labelledValue(t, srv, "quicpush_proxy_breaker_open", open); v != 1 {
		t.Fatalf("breaker_open %v", v)
	}
	refused("quic")
	refused("tcp")
	if n := b.connects.Load(); n != 3 {
		t.Fatalf("an open breaker called the backend: %d calls", n)
	}
	b.onConnect(*healthy)
	waitFor(t, "the breaker's trial call", func() bool {
		c := dialRaw(t, srv, "tcp")
		defer c.close()
		if err := c.write(wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "sess-back"})); err != nil {
			return false
		}
		h, _, err := c.next()
		return err == nil && h.Op == wire.OpAuthOK
	})
	if v := labelledValue(t, srv, "quicpush_proxy_breaker_open", open); v != 0 {
		t.Fatalf("breaker_open %v after recovery", v)
	}
	if v := labelledValue(t, srv, "quicpush_proxy_calls_total", map[string]string{"hook": "connect", "outcome": "breaker_open"}); v < 2 {
		t.Fatalf("breaker_open calls %v", v)
	}
}

// TestProxyJoinHook: rooms the join hook decides (vip:*) follow its answer,
// whatever the token says; other rooms keep the token's rule and cost the
// backend nothing.
func TestProxyJoinHook(t *testing.T) {
	b := newHookBackend(t)
	srv := proxyServer(t, b, nil)
	for _, kind := range transports {
		t.Run(kind, func(t *testing.T) {
			user := "j-" + kind
			c := dialRaw(t, srv, kind)
			// The token allows "news" and every vip room; the hook decides vip rooms.
			authenticate(t, c, token(t, user, "news", "vip:*"))
			before := b.joins.Load()
			join(t, c, 2, "news")
			if b.joins.Load() != before {
				t.Fatal("the join hook was asked about a room it does not decide")
			}
			join(t, c, 3, "vip:"+user)
			if err := c.write(wire.AppendJoin(nil, 4, &wire.Join{Room: "vip:other"})); err != nil {
				t.Fatal(err)
			}
			if e := expectErrorCode(t, c, 4, wire.ErrCodeForbidden); e.Message != "not your room" {
				t.Fatalf("message %q", e.Message)
			}
			if err := c.write(wire.AppendJoin(nil, 5, &wire.Join{Room: "vip:ban"})); err != nil {
				t.Fatal(err)
			}
			expectDisconnect(t, c, wire.CodeKicked)
		})
	}
}

// TestProxyJoinBounded: past MaxInFlight join calls under way, a join fails
// at once with Error 104 (retry); the connection stays.
func TestProxyJoinBounded(t *testing.T) {
	b := newHookBackend(t)
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	allow := b.join.Load()
	b.onJoin(func(w http.ResponseWriter, body map[string]any) {
		arrived <- struct{}{}
		<-release
		(*allow)(w, body)
	})
	srv := proxyServer(t, b, func(c *proxy.Config) {
		c.Join.MaxInFlight = 1
		c.Join.Timeout = 5 * time.Second
	})
	first := dialRaw(t, srv, "quic")
	authenticate(t, first, token(t, "one"))
	if err := first.write(wire.AppendJoin(nil, 2, &wire.Join{Room: "vip:one"})); err != nil {
		t.Fatal(err)
	}
	<-arrived
	second := dialRaw(t, srv, "tcp")
	authenticate(t, second, token(t, "two"))
	if err := second.write(wire.AppendJoin(nil, 2, &wire.Join{Room: "vip:two"})); err != nil {
		t.Fatal(err)
	}
	expectErrorCode(t, second, 2, wire.ErrCodeInternal)
	close(release)
	expectFrame(t, first, wire.OpJoinOK)
	b.onJoin(*allow)
	join(t, second, 3, "vip:two")
	if v := labelledValue(t, srv, "quicpush_proxy_calls_total", map[string]string{"hook": "join", "outcome": "overloaded"}); v != 1 {
		t.Fatalf("overloaded %v", v)
	}
}

// grpcHooks is a backend serving the hooks over gRPC (h2c): session ids
// "sess-USER" are USER, allowed "team:*"; joins of vip:USER are allowed.
type grpcHooks struct {
	proxyv1connect.UnimplementedProxyServiceHandler
}

func (grpcHooks) Connect(_ context.Context, req *connect.Request[proxyv1.ConnectRequest]) (*connect.Response[proxyv1.ConnectResponse], error) {
	user, ok := strings.CutPrefix(req.Msg.GetToken(), "sess-")
	if !ok || req.Header().Get("X-Api-Key") != "hook-key" {
		return connect.NewResponse(&proxyv1.ConnectResponse{Answer: &proxyv1.ConnectResponse_Disconnect{
			Disconnect: &proxyv1.Disconnect{Code: 3500, Reason: "unknown session"}}}), nil
	}
	return connect.NewResponse(&proxyv1.ConnectResponse{Answer: &proxyv1.ConnectResponse_Result{
		Result: &proxyv1.ConnectResult{User: user, Rooms: []string{"team:*"}}}}), nil
}

func (grpcHooks) Join(_ context.Context, req *connect.Request[proxyv1.JoinRequest]) (*connect.Response[proxyv1.JoinResponse], error) {
	if req.Msg.GetRoom() == "vip:"+req.Msg.GetUser() {
		return connect.NewResponse(&proxyv1.JoinResponse{Answer: &proxyv1.JoinResponse_Result{Result: &proxyv1.JoinResult{}}}), nil
	}
	return connect.NewResponse(&proxyv1.JoinResponse{Answer: &proxyv1.JoinResponse_Error{Error: &proxyv1.JoinError{Message: "no"}}}), nil
}

// TestProxyHooksOverGRPC: the same hooks with a grpc:// URL.
func TestProxyHooksOverGRPC(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle(proxyv1connect.NewProxyServiceHandler(grpcHooks{}))
	hs := httptest.NewUnstartedServer(mux)
	hs.Config.Protocols = new(http.Protocols)
	hs.Config.Protocols.SetUnencryptedHTTP2(true)
	hs.Start()
	t.Cleanup(hs.Close)
	url := "grpc://" + hs.Listener.Addr().String()
	srv := startServer(t, func(c *server.SingleConfig) {
		c.Proxy = proxy.Config{
			Connect:   proxy.HookConfig{URL: url},
			Join:      proxy.HookConfig{URL: url},
			JoinRooms: []string{"vip:*"},
			Header:    http.Header{"X-Api-Key": {"hook-key"}},
		}
	})
	for _, kind := range []string{"tcp", "quic"} {
		user := "g-" + kind
		c := dialRaw(t, srv, kind)
		if ok := authenticate(t, c, "sess-"+user); ok.User != user {
			t.Fatalf("%s: user %q", kind, ok.User)
		}
		join(t, c, 2, "team:a")
		join(t, c, 3, "vip:"+user)
		if err := c.write(wire.AppendJoin(nil, 4, &wire.Join{Room: "vip:x"})); err != nil {
			t.Fatal(err)
		}
		expectErrorCode(t, c, 4, wire.ErrCodeForbidden)
		bad := dialRaw(t, srv, kind)
		if err := bad.write(wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "nope"})); err != nil {
			t.Fatal(err)
		}
		expectDisconnect(t, bad, wire.CodeInvalidToken)
	}
}

// TestProxyRefreshThroughHook: a connection the connect hook authenticated
// refreshes through it: new credentials of the same user are accepted with
// the expiry the backend gives, the hook's rooms stay; another user's or
// refused credentials get Error 105 and change nothing.
func TestProxyRefreshThroughHook(t *testing.T) {
	b := newHookBackend(t)
	b.onConnect(func(w http.ResponseWriter, body map[string]any) {
		tok, _ := body["token"].(string)
		user, ok := strings.CutPrefix(tok, "sess-")
		if !ok {
			_, _ = io.WriteString(w, `{"disconnect":{"code":3500}}`)
			return
		}
		user, _, _ = strings.Cut(user, "#") // sess-USER#N: the Nth session of USER
		exp := time.Now().Add(time.Hour).Unix()
		_, _ = io.WriteString(w, `{"result":{"user":"`+user+`","rooms":["team:*"],"expire_at":`+strconv.FormatInt(exp, 10)+`}}`)
	})
	srv := proxyServer(t, b, nil)
	for _, kind := range []string{"tcp", "quic"} {
		c := dialRaw(t, srv, kind)
		authenticate(t, c, "sess-rita")
		for seq, tok := range map[uint32]string{2: "sess-other", 3: "garbage"} {
			if err := c.write(wire.AppendRefresh(nil, seq, &wire.Refresh{Token: tok})); err != nil {
				t.Fatal(err)
			}
			expectErrorCode(t, c, seq, wire.ErrCodeTokenRejected)
		}
		before := b.connects.Load()
		if err := c.write(wire.AppendRefresh(nil, 4, &wire.Refresh{Token: "sess-rita#2"})); err != nil {
			t.Fatal(err)
		}
		_, body := expectFrame(t, c, wire.OpRefreshOK)
		var ok wire.RefreshOK
		if err := ok.Decode(body); err != nil || ok.ExpiresInMs < 50*60*1000 || ok.ExpiresInMs > 60*60*1000 {
			t.Fatalf("refresh_ok %+v %v", ok, err)
		}
		if b.connects.Load() != before+1 {
			t.Fatal("the refresh did not ask the hook")
		}
		join(t, c, 5, "team:x")
	}
}
