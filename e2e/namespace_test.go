package e2e

import (
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/namespace"
	"github.com/quicpush/quicpush/proxy"
	"github.com/quicpush/quicpush/server"
	"github.com/quicpush/quicpush/wire"
)

// namespaces parses --namespace values for a test server.
func namespaces(t *testing.T, specs ...string) *namespace.Set {
	t.Helper()
	set := &namespace.Set{}
	for _, spec := range specs {
		ns, err := namespace.Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		set.Add(ns)
	}
	return set
}

// TestNamespaceOptions: one quicpush with three namespaces, clients on the
// four transports. A room of a namespace without history is joined and
// pushed to without positions while the default rooms keep them; a room of
// a namespace with presence off is counted but not listed; a namespace with
// ephemeral off refuses ephemeral pushes with invalid_argument (also as
// curl sends them), and takes reliable ones.
func TestNamespaceOptions(t *testing.T) {
	set := namespaces(t, "pos/:ephemeral=off", "quiet/:presence=off", "ticker/:history=-1")
	srv := startServer(t, func(c *server.SingleConfig) {
		c.Edge.Namespaces = set
		c.History = set.Policies(history.Policy{})
	})
	api := srv.apiClient()
	conns := map[string]rawConn{}
	for _, kind := range transports {
		c := dialRaw(t, srv, kind)
		authenticate(t, c, token(t, "user-"+kind, "*"))
		for i, room := range []string{"ticker/x", "news", "quiet/1", "pos/1"} {
			if err := c.write(wire.AppendJoin(nil, uint32(2+i), &wire.Join{Room: room})); err != nil {
				t.Fatal(err)
			}
			_, body := expectFrame(t, c, wire.OpJoinOK)
			var ok wire.JoinOK
			if err := ok.Decode(body); err != nil || ok.Room != room {
				t.Fatalf("%s: join_ok %+v, %v", kind, ok, err)
			}
			if hasPosition := ok.Epoch != ""; hasPosition != (room != "ticker/x") {
				t.Fatalf("%s: %s joined at position %d %q", kind, room, ok.Offset, ok.Epoch)
			}
		}
		conns[kind] = c
	}

	pushRoom(t, api, "ticker/x", "tick")
	pushRoom(t, api, "news", "headline")
	for kind, c := range conns {
		if p := expectPush(t, c); p.Room != "ticker/x" || p.Offset != 0 || p.Epoch != "" {
			t.Fatalf("%s: %+v, want a push of ticker/x without a position", kind, p)
		}
		if p := expectPush(t, c); p.Room != "news" || p.Offset == 0 || p.Epoch == "" {
			t.Fatalf("%s: %+v, want a push of news with a position", kind, p)
		}
	}

	got, msg := presenceOf(t, api, "quiet/1")
	if len(got) != 0 || msg.GetListed() || msg.GetConnections() != int64(len(transports)) {
		t.Fatalf("Presence of a room without presence listing = %q %v", got, msg)
	}
	if got, msg = presenceOf(t, api, "news"); len(got) != len(transports) || !msg.GetListed() {
		t.Fatalf("Presence of a default room = %q %v", got, msg)
	}

	// Ephemeral pushes: refused in pos/, taken elsewhere.
	_, err := api.PushRoom(t.Context(), connect.NewRequest(&pushv1.PushRoomRequest{Room: "pos/1", Text: "x", Ephemeral: true}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "ephemeral") {
		t.Fatalf("ephemeral push to pos/1: %v, want invalid_argument", err)
	}
	status, body := postJSON(t, srv.api, "PushRoom", `{"room":"pos/1","text":"x","ephemeral":true}`)
	if status != http.StatusBadRequest || !strings.Contains(string(body), "invalid_argument") ||
		!strings.Contains(string(body), "ephemeral: the room's namespace does not take ephemeral pushes") {
		t.Fatalf("JSON ephemeral push to pos/1: %d %s", status, body)
	}
	pushRoom(t, api, "pos/1", "reliable")
	for kind, c := range conns {
		if p := expectPush(t, c); p.Room != "pos/1" || string(p.Data) != "reliable" {
			t.Fatalf("%s: %+v, want the reliable push of pos/1", kind, p)
		}
	}
}

// TestNamespaceJoinRules: who may join is the namespace's rule, on each of
// the four transports, with a token that allows only "news": a public
// namespace takes anyone, a token namespace needs the token's claim, a
// server namespace takes no client Join, and a proxy namespace asks the
// application's backend (whose answers are the hook backend's of
// proxy_test.go: a room named after the user only), however the edge's own
// --proxy-join-rooms are set.
func TestNamespaceJoinRules(t *testing.T) {
	b := newHookBackend(t)
	set := namespaces(t, "open/:join=public", "team/:join=server", "vip:join=proxy")
	srv := startServer(t, func(c *server.SingleConfig) {
		c.Edge.Namespaces = set
		c.Proxy = proxy.Config{Join: proxy.HookConfig{URL: b.URL + "/join"}, JoinRooms: []string{"hooked-only"},
			Header: http.Header{"X-Api-Key": {"hook-key"}}}
	})
	for _, kind := range transports {
		t.Run(kind, func(t *testing.T) {
			user := "rules-" + kind
			c := dialRaw(t, srv, kind)
			authenticate(t, c, token(t, user, "news"))
			join(t, c, 2, "news")
			join(t, c, 3, "open/lobby")
			for seq, room := range map[uint32]string{4: "team/7", 5: "other", 6: "vip:other"} {
				if err := c.write(wire.AppendJoin(nil, seq, &wire.Join{Room: room})); err != nil {
					t.Fatal(err)
				}
				expectErrorCode(t, c, seq, wire.ErrCodeForbidden)
			}
			before := b.joins.Load()
			join(t, c, 7, "vip:"+user)
			if b.joins.Load() == before {
				t.Fatal("the join hook was not asked about a room of a join=proxy namespace")
			}
		})
	}
}
