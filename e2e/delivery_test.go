package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"connectrpc.com/connect"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/wire"
)

// TestDeliveryPerTransport runs the whole client story on each transport:
// auth, join, pushes to the room, the user, the connection key and everyone,
// ping, leave.
func TestDeliveryPerTransport(t *testing.T) {
	srv := startServer(t, nil)
	api := srv.apiClient()
	for _, kind := range transports {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			user := "user-" + kind
			room := "room-" + kind
			c := dialRaw(t, srv, kind)
			ok := authenticate(t, c, token(t, user, "room-*"))
			if ok.User != user || ok.ConnKey == "" || ok.PingIntervalMs == 0 || ok.MaxFrame != wire.DefaultMaxFrame {
				t.Fatalf("auth_ok %+v", ok)
			}
			join(t, c, 2, room)

			id := pushRoom(t, api, room, `{"test":1}`)
			p := expectPush(t, c)
			if p.Kind != wire.PushRoom || p.Room != room || p.ID != id || string(p.Data) != `{"test":1}` {
				t.Fatalf("room push %+v, want id %s", p, id)
			}

			ctx := context.Background()
			ur, err := api.PushUsers(ctx, connect.NewRequest(&pushv1.PushUsersRequest{Users: []string{user}, Data: []byte{0, 1, 2}}))
			if err != nil {
				t.Fatal(err)
			}
			p = expectPush(t, c)
			if p.Kind != wire.PushDirect || p.ID != ur.Msg.MessageId || !bytes.Equal(p.Data, []byte{0, 1, 2}) {
				t.Fatalf("user push %+v", p)
			}

			kr, err := api.PushKeys(ctx, connect.NewRequest(&pushv1.PushKeysRequest{Keys: []string{ok.ConnKey}, Text: "by key"}))
			if err != nil {
				t.Fatal(err)
			}
			p = expectPush(t, c)
			if p.Kind != wire.PushDirect || p.ID != kr.Msg.MessageId || string(p.Data) != "by key" {
				t.Fatalf("key push %+v", p)
			}

			if err := c.write(wire.AppendFrame(nil, wire.OpPing, 9, nil)); err != nil {
				t.Fatal(err)
			}
			if h, _ := expectFrame(t, c, wire.OpPong); h.Seq != 9 {
				t.Fatalf("pong seq %d", h.Seq)
			}

			// After leaving, a room push must not arrive: the key push sent
			// after it is the next frame.
			if err := c.write(wire.AppendRoom(nil, wire.OpLeave, 3, room)); err != nil {
				t.Fatal(err)
			}
			expectFrame(t, c, wire.OpLeaveOK)
			pushRoom(t, api, room, "after leave")
			kr, err = api.PushKeys(ctx, connect.NewRequest(&pushv1.PushKeysRequest{Keys: []string{ok.ConnKey}, Text: "marker"}))
			if err != nil {
				t.Fatal(err)
			}
			if p = expectPush(t, c); p.ID != kr.Msg.MessageId {
				t.Fatalf("got %+v after leave, want the marker", p)
			}
		})
	}
}

// TestBroadcastReachesEveryTransport connects one client per transport and
// checks one broadcast reaches all of them, and the online count sees them.
func TestBroadcastReachesEveryTransport(t *testing.T) {
	srv := startServer(t, nil)
	api := srv.apiClient()
	conns := map[string]rawConn{}
	for _, kind := range transports {
		c := dialRaw(t, srv, kind)
		authenticate(t, c, token(t, "b-"+kind, "shared"))
		join(t, c, 2, "shared")
		conns[kind] = c
	}
	ctx := context.Background()
	on, err := api.Online(ctx, connect.NewRequest(&pushv1.OnlineRequest{Rooms: []string{"shared", "nobody"}, Top: 5}))
	if err != nil {
		t.Fatal(err)
	}
	if on.Msg.Total != int64(len(transports)) || on.Msg.Rooms["shared"] != int64(len(transports)) || on.Msg.Rooms["nobody"] != 0 {
		t.Fatalf("online %+v", on.Msg)
	}
	if len(on.Msg.Top) != 1 || on.Msg.Top[0].Room != "shared" {
		t.Fatalf("top rooms %+v", on.Msg.Top)
	}
	br, err := api.Broadcast(ctx, connect.NewRequest(&pushv1.BroadcastRequest{Text: "to all"}))
	if err != nil {
		t.Fatal(err)
	}
	for kind, c := range conns {
		if p := expectPush(t, c); p.Kind != wire.PushBroadcast || p.ID != br.Msg.MessageId || string(p.Data) != "to all" {
			t.Fatalf("%s: broadcast %+v", kind, p)
		}
	}
	// A paced broadcast arrives too.
	br, err = api.Broadcast(ctx, connect.NewRequest(&pushv1.BroadcastRequest{Text: "paced", Rate: 2}))
	if err != nil {
		t.Fatal(err)
	}
	for kind, c := range conns {
		if p := expectPush(t, c); p.ID != br.Msg.MessageId {
			t.Fatalf("%s: paced broadcast %+v", kind, p)
		}
	}
}

// TestPushThroughEveryAPIProtocol pushes once with each API protocol and
// real external clients: curl with plain JSON, grpcurl with gRPC (using the
// server's reflection), and the gRPC-Web and gRPC protocols of connect-go.
func TestPushThroughEveryAPIProtocol(t *testing.T) {
	grpcurlBin := grpcurl(t) // built first: the client below has a read deadline
	srv := startServer(t, nil)
	c := dialRaw(t, srv, "tcp")
	authenticate(t, c, token(t, "api-user", "news"))
	join(t, c, 2, "news")

	t.Run("curl JSON", func(t *testing.T) {
		out := run(t, "curl", "-sS", "--fail-with-body", "-X", "POST",
			"-H", "Content-Type: application/json", "-H", "Authorization: Bearer "+testAPIKey,
			"-d", `{"room":"news","text":"{\"via\":\"curl\"}"}`,
			"http://"+srv.api+"/quicpush.push.v1.PushService/PushRoom")
		if p := expectPush(t, c); string(p.Data) != `{"via":"curl"}` || !strings.Contains(out, p.ID) {
			t.Fatalf("push %+v, curl said %s", p, out)
		}
	})
	t.Run("curl JSON-valued data", func(t *testing.T) {
		out := run(t, "curl", "-sS", "--fail-with-body", "-X", "POST",
			"-H", "Content-Type: application/json", "-H", "Authorization: Bearer "+testAPIKey,
			"-d", `{"room":"news","data": {"via": "curl", "n": [1, 2]}}`,
			"http://"+srv.api+"/quicpush.push.v1.PushService/PushRoom")
		if p := expectPush(t, c); string(p.Data) != `{"via":"curl","n":[1,2]}` || !strings.Contains(out, p.ID) {
			t.Fatalf("push %+v, curl said %s", p, out)
		}
	})
	t.Run("curl b64data", func(t *testing.T) {
		run(t, "curl", "-sS", "--fail-with-body", "-X", "POST",
			"-H", "Content-Type: application/json", "-H", "Authorization: Bearer "+testAPIKey,
			"-d", `{"room":"news","b64data":"AP8="}`,
			"http://"+srv.api+"/quicpush.push.v1.PushService/PushRoom")
		if p := expectPush(t, c); string(p.Data) != "\x00\xff" {
			t.Fatalf("push %+v, want bytes 00 ff", p)
		}
	})
	t.Run("curl wrong key", func(t *testing.T) {
		cmd := exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
			"-H", "Content-Type: application/json", "-H", "Authorization: Bearer wrong",
			"-d", `{"room":"news","text":"x"}`, "http://"+srv.api+"/quicpush.push.v1.PushService/PushRoom")
		out, _ := cmd.Output()
		if string(out) != "401" {
			t.Fatalf("status %s, want 401", out)
		}
	})
	t.Run("grpcurl", func(t *testing.T) {
		out := run(t, grpcurlBin, "-plaintext", "-H", "Authorization: Bearer "+testAPIKey,
			"-d", `{"room":"news","text":"via grpcurl"}`, srv.api, "quicpush.push.v1.PushService/PushRoom")
		if p := expectPush(t, c); string(p.Data) != "via grpcurl" || !strings.Contains(out, p.ID) {
			t.Fatalf("push %+v, grpcurl said %s", p, out)
		}
	})
	t.Run("grpc-web", func(t *testing.T) {
		id := pushRoom(t, srv.apiClient(connect.WithGRPCWeb()), "news", "via grpc-web")
		if p := expectPush(t, c); p.ID != id {
			t.Fatalf("push %+v, want %s", p, id)
		}
	})
	t.Run("grpc", func(t *testing.T) {
		id := pushRoom(t, srv.apiClient(connect.WithGRPC()), "news", "via grpc")
		if p := expectPush(t, c); p.ID != id {
			t.Fatalf("push %+v, want %s", p, id)
		}
	})
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
	return string(out)
}

// grpcurl builds the grpcurl pinned in tools/go.mod, once per test run.
func grpcurl(t *testing.T) string {
	t.Helper()
	path, err := grpcurlBinary.Path()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPayloadsPerTransport: a JSON-valued data and b64data pushed through
// the API's JSON (as curl sends them) reach a client on each of the four
// transports as the same bytes: the compact JSON text, and the raw bytes.
func TestPayloadsPerTransport(t *testing.T) {
	srv := startServer(t, nil)
	conns := map[string]rawConn{}
	for _, kind := range transports {
		c := dialRaw(t, srv, kind)
		authenticate(t, c, token(t, "payload-"+kind, "payloads"))
		join(t, c, 2, "payloads")
		conns[kind] = c
	}
	for _, tc := range []struct{ body, want string }{
		{`{"room":"payloads","data": {"a": [1, 2, {"b": null}], "s": "é"}}`, `{"a":[1,2,{"b":null}],"s":"é"}`},
		{`{"room":"payloads","data": 42.5}`, `42.5`},
		{`{"room":"payloads","b64data":"AAEC/w=="}`, "\x00\x01\x02\xff"},
	} {
		if status, out := postJSON(t, srv.api, "PushRoom", tc.body); status != http.StatusOK {
			t.Fatalf("%s: status %d %s", tc.body, status, out)
		}
		for kind, c := range conns {
			if p := expectPush(t, c); string(p.Data) != tc.want {
				t.Fatalf("%s: %q, want %q", kind, p.Data, tc.want)
			}
		}
	}
}
