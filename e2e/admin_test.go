package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/quicpush/quicpush/gen/quicpush/push/v1/pushv1connect"
	"github.com/quicpush/quicpush/server"
	"github.com/quicpush/quicpush/wire"
)

const testAdminToken = "test-admin-token"

// startAdminServer is a single process with the admin page on.
func startAdminServer(t *testing.T) *testServer {
	t.Helper()
	return startServer(t, func(c *server.SingleConfig) {
		c.AdminAddr = "127.0.0.1:0"
		c.AdminUI = &server.AdminUIConfig{Token: testAdminToken}
	})
}

// adminCall sends a request to the admin listener with auth as the
// Authorization header (none when empty); it returns the status, the body
// and the headers.
func adminCall(t *testing.T, srv *testServer, method, path, auth, body string) (int, []byte, http.Header) {
	t.Helper()
	return adminCallAt(t, srv.Admin.Addr().String(), method, path, auth, body)
}

// adminCallAt is adminCall to the admin listener at addr.
func adminCallAt(t *testing.T, addr, method, path, auth, body string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// adminState is the part of /admin/api/state the tests read.
type adminState struct {
	EdgeFigures bool `json:"edge_figures"`
	Nodes       []struct {
		ID        string `json:"id"`
		Role      string `json:"role"`
		Health    string `json:"health"`
		Drainable bool   `json:"drainable"`
	} `json:"nodes"`
	Connections map[string]int64 `json:"connections"`
	TopRooms    []struct {
		Room    string `json:"room"`
		Members int64  `json:"members"`
	} `json:"top_rooms"`
	HotRooms []struct {
		Room      string  `json:"room"`
		PerSecond float64 `json:"per_second"`
	} `json:"hot_rooms"`
	Series []struct {
		DeliveriesPS float64  `json:"deliveries_per_s"`
		PushesPS     float64  `json:"pushes_per_s"`
		P99          *float64 `json:"p99_ms"`
	} `json:"series"`
	Kafka []struct {
		Partition int32 `json:"partition"`
		Lag       int64 `json:"lag"`
	} `json:"kafka"`
}

func getAdminState(t *testing.T, srv *testServer) adminState {
	t.Helper()
	return getAdminStateAt(t, srv.Admin.Addr().String())
}

func getAdminStateAt(t *testing.T, addr string) adminState {
	t.Helper()
	code, body, _ := adminCallAt(t, addr, http.MethodGet, "/admin/api/state", "Bearer "+testAdminToken, "")
	if code != http.StatusOK {
		t.Fatalf("state: %d %s", code, body)
	}
	var st adminState
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("state: %v in %s", err, body)
	}
	return st
}

// The page is served to anyone (it holds no data) with headers that keep it
// from being framed; its JSON API and the drain want the bearer token, and
// only the right one.
func TestAdminToken(t *testing.T) {
	srv := startAdminServer(t)
	code, body, h := adminCall(t, srv, http.MethodGet, "/admin/", "", "")
	if code != http.StatusOK || !bytes.Contains(body, []byte("admin.js")) || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("page: %d, CSP %q, body %.80q", code, h.Get("Content-Security-Policy"), body)
	}
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + testAdminToken + "x", "Basic " + testAdminToken, testAdminToken} {
		if code, _, h := adminCall(t, srv, http.MethodGet, "/admin/api/state", auth, ""); code != http.StatusUnauthorized || h.Get("WWW-Authenticate") == "" {
			t.Errorf("state with Authorization %q: %d, want 401 with a challenge", auth, code)
		}
		if code, _, _ := adminCall(t, srv, http.MethodPost, "/admin/api/drain", auth, `{"node":"x"}`); code != http.StatusUnauthorized {
			t.Errorf("drain with Authorization %q: %d, want 401", auth, code)
		}
	}
	if code, _, _ := adminCall(t, srv, http.MethodGet, "/admin/api/drain", "Bearer "+testAdminToken, ""); code < 400 {
		t.Errorf("GET drain: %d, want an error: a drain is a POST", code)
	}
	st := getAdminState(t, srv)
	if len(st.Nodes) != 1 || st.Nodes[0].Health != "ok" || !st.Nodes[0].Drainable || st.Kafka != nil {
		t.Fatalf("state of an idle process: %+v", st)
	}
}

// While a client is in a room and pushes go to it, the state shows the
// connection, the room by members and by rate, deliveries per second and a
// push latency.
func TestAdminStateMoves(t *testing.T) {
	srv := startAdminServer(t)
	conn := dialTCP(t, srv)
	fr := authTCP(t, conn, token(t, "alice", "lobby"))
	if _, err := conn.Write(wire.AppendJoin(nil, 2, &wire.Join{Room: "lobby"})); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	go func() { // read everything, so that the client is never a slow consumer
		for {
			if _, _, err := fr.ReadFrame(); err != nil {
				return
			}
		}
	}()
	api := srv.apiClient()
	deadline := time.Now().Add(8 * time.Second)
	for {
		pushRoom(t, api, "lobby", "tick")
		st := getAdminState(t, srv)
		moved := len(st.Series) > 0 && st.Series[len(st.Series)-1].DeliveriesPS > 0 && st.Series[len(st.Series)-1].P99 != nil
		if moved && st.Connections["tcp"] == 1 && len(st.TopRooms) == 1 && st.TopRooms[0].Room == "lobby" &&
			st.TopRooms[0].Members == 1 && len(st.HotRooms) == 1 && st.HotRooms[0].Room == "lobby" && st.HotRooms[0].PerSecond > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the state did not move with pushes: %+v", st)
		}
		time.Sleep(50 * time.Millisecond) // the push rate, not a wait for a condition
	}
}

// Draining the process's edge from the page tells its clients to reconnect
// elsewhere (Disconnect 3000) and fails /readyz; a node that is not there is
// 404, a second drain 409.
func TestAdminDrain(t *testing.T) {
	srv := startAdminServer(t)
	conn := dialTCP(t, srv)
	fr := authTCP(t, conn, token(t, "alice"))
	id := getAdminState(t, srv).Nodes[0].ID
	auth := "Bearer " + testAdminToken
	if code, _, _ := adminCall(t, srv, http.MethodPost, "/admin/api/drain", auth, `{"node":"elsewhere"}`); code != http.StatusNotFound {
		t.Fatalf("drain of an unknown node: %d, want 404", code)
	}
	if code, _, _ := adminCall(t, srv, http.MethodPost, "/admin/api/drain", auth, `not json`); code != http.StatusBadRequest {
		t.Fatalf("drain with a bad body: %d, want 400", code)
	}
	if code, body, _ := adminCall(t, srv, http.MethodPost, "/admin/api/drain", auth, `{"node":"`+id+`"}`); code != http.StatusAccepted {
		t.Fatalf("drain: %d %s, want 202", code, body)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		h, body, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("connection ended without Disconnect 3000: %v", err)
		}
		if h.Op != wire.OpDisconnect {
			continue
		}
		var d wire.Disconnect
		if err := d.Decode(body); err != nil || d.Code != wire.CodeShutdown {
			t.Fatalf("disconnect %+v (%v), want %d", d, err, wire.CodeShutdown)
		}
		break
	}
	if code, body := getStatus(t, srv.Admin.Addr().String(), "/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz after the drain: %d %q, want 503", code, body)
	}
	if n := getAdminState(t, srv).Nodes[0]; n.Health == "ok" || n.Drainable {
		t.Fatalf("node after the drain: %+v", n)
	}
	if code, _, _ := adminCall(t, srv, http.MethodPost, "/admin/api/drain", auth, `{"node":"`+id+`"}`); code != http.StatusConflict {
		t.Fatalf("second drain: %d, want 409", code)
	}
}

// In a cluster, the api process's page lists itself, the edges of the
// Redis registry and the cores of the consumer group, the group's lag per
// partition, the edges' figures summed (connections, deliveries, push
// latency) and the pushes it accepts; it drains an edge over EdgeService.
func TestAdminCluster(t *testing.T) {
	c := startCluster(t, 1, 2)
	api, err := server.StartAPI(server.APIConfig{
		Addr:           "127.0.0.1:0",
		AdminAddr:      "127.0.0.1:0",
		AdminUI:        &server.AdminUIConfig{Token: testAdminToken},
		Kafka:          c.kafkaConfig(),
		Redis:          c.redisConfig(),
		APIKeys:        []string{testAPIKey},
		PublishTimeout: 2 * time.Second,
		StartTimeout:   20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Close() })
	admin := api.Admin.Addr().String()
	if code, _, _ := adminCallAt(t, admin, http.MethodGet, "/admin/api/state", "Bearer wrong", ""); code != http.StatusUnauthorized {
		t.Fatalf("state with a wrong token: %d, want 401", code)
	}
	drained := c.edges[0]
	conn, err := net.DialTimeout("tcp", drained.Edge.TCPAddr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	fr := authTCP(t, conn, token(t, "alice", "lobby"))
	if _, err := conn.Write(wire.AppendJoin(nil, 2, &wire.Join{Room: "lobby"})); err != nil {
		t.Fatal(err)
	}
	frames := make(chan wire.Header, 1024)
	go func() { // read everything, so that the client is never a slow consumer
		_ = conn.SetReadDeadline(time.Time{})
		for {
			h, body, err := fr.ReadFrame()
			if err != nil {
				close(frames)
				return
			}
			if h.Op == wire.OpDisconnect {
				var d wire.Disconnect
				if d.Decode(body) == nil {
					h.Seq = uint32(d.Code) // the code, for the test below
				}
			}
			select {
			case frames <- h:
			default:
			}
		}
	}()

	cl := pushv1connect.NewPushServiceClient(&http.Client{Transport: h2cTransport()}, "http://"+api.Addr().String(),
		connect.WithInterceptors(bearer(testAPIKey)))
	deadline := time.Now().Add(10 * time.Second)
	for {
		pushRoom(t, cl, "lobby", "tick")
		st := getAdminStateAt(t, admin)
		roles := map[string]int{}
		for _, n := range st.Nodes {
			if strings.HasPrefix(n.Health, "ok") && (n.Role != "edge" || n.Drainable) {
				roles[n.Role]++
			}
		}
		var last struct {
			pushes, deliveries float64
			p99                *float64
		}
		if len(st.Series) > 0 {
			p := st.Series[len(st.Series)-1]
			last.pushes, last.deliveries, last.p99 = p.PushesPS, p.DeliveriesPS, p.P99
		}
		if st.EdgeFigures && roles["api"] == 1 && roles["edge"] == 2 && roles["core"] == 1 && len(st.Kafka) == 4 &&
			st.Connections["tcp"] == 1 && last.pushes > 0 && last.deliveries > 0 && last.p99 != nil &&
			len(st.HotRooms) == 1 && st.HotRooms[0].Room == "lobby" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster state: %+v", st)
		}
		time.Sleep(50 * time.Millisecond) // the push rate, not a wait for a condition
	}

	auth := "Bearer " + testAdminToken
	if code, _, _ := adminCallAt(t, admin, http.MethodPost, "/admin/api/drain", auth, `{"node":"no-such-edge"}`); code != http.StatusNotFound {
		t.Fatalf("drain of an unknown edge: %d, want 404", code)
	}
	if code, body, _ := adminCallAt(t, admin, http.MethodPost, "/admin/api/drain", auth, `{"node":"`+drained.Info.ID+`"}`); code != http.StatusAccepted {
		t.Fatalf("drain: %d %s, want 202", code, body)
	}
	timeout := time.After(10 * time.Second)
	for got := false; !got; {
		select {
		case h, ok := <-frames:
			if !ok {
				t.Fatal("the drained edge's client saw no Disconnect")
			}
			if h.Op == wire.OpDisconnect {
				if wire.Code(h.Seq) != wire.CodeShutdown {
					t.Fatalf("disconnect %d, want %d", h.Seq, wire.CodeShutdown)
				}
				got = true
			}
		case <-timeout:
			t.Fatal("no Disconnect 3000 within 10 s of the drain")
		}
	}
}
