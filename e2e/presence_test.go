package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/quicpush/quicpush/edge"
	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/gen/quicpush/push/v1/pushv1connect"
	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/wire"
)

// presenceOf calls Presence and returns "user:key@edge info" for each
// connection, in order, with the response.
func presenceOf(t *testing.T, api pushv1connect.PushServiceClient, room string) ([]string, *pushv1.PresenceResponse) {
	t.Helper()
	rsp, err := api.Presence(t.Context(), connect.NewRequest(&pushv1.PresenceRequest{Room: room}))
	if err != nil {
		t.Fatalf("Presence(%s): %v", room, err)
	}
	var out []string
	for _, u := range rsp.Msg.GetUsers() {
		for _, c := range u.GetConnections() {
			out = append(out, u.GetUser()+":"+c.GetKey()+"@"+c.GetEdge()+" "+c.GetInfo())
		}
	}
	return out, rsp.Msg
}

// TestPresenceServe: clients on the four transports join a room of a
// single-process quicpush; Presence lists each with its key, edge and token
// info (also over plain HTTP with JSON, as curl would call it); once they
// leave or hang up they are gone.
func TestPresenceServe(t *testing.T) {
	srv := startServer(t, nil)
	api := srv.apiClient()
	var want []string
	conns := make(map[string]rawConn)
	for i, kind := range transports {
		c := dialRaw(t, srv, kind)
		claims := auth.NewClaims("user-"+kind, []string{"*"}, time.Hour)
		info := ""
		if i%2 == 0 {
			info = fmt.Sprintf(`{"transport":%q}`, kind)
			claims.Info = json.RawMessage(info)
		}
		tok, err := auth.Sign(testSecret, "", claims)
		if err != nil {
			t.Fatal(err)
		}
		ok := authenticate(t, c, tok)
		join(t, c, 2, "lobby")
		conns[kind] = c
		want = append(want, "user-"+kind+":"+ok.ConnKey+"@"+srv.Edge.ID()+" "+info)
	}
	slices.Sort(want)
	got, msg := presenceOf(t, api, "lobby")
	if !slices.Equal(got, want) || !msg.GetListed() || msg.GetTruncated() || msg.GetConnections() != 4 || msg.GetUserCount() != 4 {
		t.Fatalf("Presence = %q %v\nwant %q", got, msg, want)
	}
	st, err := api.PresenceStats(t.Context(), connect.NewRequest(&pushv1.PresenceStatsRequest{Room: "lobby"}))
	if err != nil || st.Msg.GetConnections() != 4 || st.Msg.GetUsers() != 4 || !st.Msg.GetUsersExact() {
		t.Fatalf("PresenceStats = %v, %v", st, err)
	}

	// The same call as curl makes it: JSON over HTTP/1.1, a page of 3.
	status, body := postJSON(t, srv.api, "Presence", `{"room":"lobby","limit":3}`)
	var page struct {
		Users []struct {
			User        string `json:"user"`
			Connections []struct {
				Key, Edge, Info string
			} `json:"connections"`
		} `json:"users"`
		Listed      bool   `json:"listed"`
		Truncated   bool   `json:"truncated"`
		NextCursor  string `json:"nextCursor"`
		Connections string `json:"connections"` // int64 is a string in JSON
	}
	if err := json.Unmarshal(body, &page); err != nil || status != http.StatusOK {
		t.Fatalf("JSON Presence: %d %s (%v)", status, body, err)
	}
	if len(page.Users) != 3 || !page.Listed || !page.Truncated || page.NextCursor == "" || page.Connections != "4" {
		t.Fatalf("JSON Presence page: %s", body)
	}

	// Two leave, two hang up: all gone.
	for _, kind := range transports[:2] {
		if err := conns[kind].write(wire.AppendRoom(nil, wire.OpLeave, 3, "lobby")); err != nil {
			t.Fatal(err)
		}
		expectFrame(t, conns[kind], wire.OpLeaveOK)
	}
	for _, kind := range transports[2:] {
		conns[kind].close()
	}
	waitFor(t, "the room to empty", func() bool {
		got, msg := presenceOf(t, api, "lobby")
		return len(got) == 0 && msg.GetConnections() == 0 && msg.GetListed()
	})
}

// TestPresenceCluster: two edges on redis-server. A user connected to both
// counts once; a room past an edge's listing threshold is counts only; a
// killed edge's members vanish within its registry TTL.
func TestPresenceCluster(t *testing.T) {
	kf, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kf.Close)
	const ttl = time.Second
	c := startClusterTTL(t, kf.ListenAddrs(), ttl, 1, 0)
	c.tuneEdge = func(ec *edge.Config) { ec.PresenceListMax = 3 }
	e0, e1 := c.startEdge("edge0"), c.startEdge("edge1")
	api := c.apiClient()

	a0, _ := c.client("alice", []string{"r"}, e0)
	a1, _ := c.client("alice", []string{"r"}, e1)
	want := []string{"alice:" + a0.ConnKey() + "@edge0 ", "alice:" + a1.ConnKey() + "@edge1 "}
	slices.Sort(want)
	eventually(t, 5*time.Second, "alice listed on both edges", func() bool {
		got, msg := presenceOf(t, api, "r")
		return slices.Equal(got, want) && msg.GetConnections() == 2 && msg.GetUserCount() == 1
	})
	st, err := api.PresenceStats(t.Context(), connect.NewRequest(&pushv1.PresenceStatsRequest{Room: "r"}))
	if err != nil || st.Msg.GetConnections() != 2 || st.Msg.GetUsers() != 1 || !st.Msg.GetUsersExact() {
		t.Fatalf("PresenceStats = %v, %v", st, err)
	}

	// Four members on edge1, past its threshold of 3: counts only.
	for i := range 4 {
		c.client(fmt.Sprintf("fan%d", i), []string{"big"}, e1)
	}
	eventually(t, 5*time.Second, "the big room counted", func() bool {
		got, msg := presenceOf(t, api, "big")
		return len(got) == 0 && !msg.GetListed() && msg.GetConnections() == 4 && msg.GetUserCount() == 4
	})

	// edge1 dies: within the TTL its members are gone from both rooms.
	killed := time.Now()
	_ = e1.Close()
	eventually(t, 3*ttl, "edge1's members gone", func() bool {
		got, msg := presenceOf(t, api, "r")
		_, big := presenceOf(t, api, "big")
		return slices.Equal(got, want[:1]) && msg.GetConnections() == 1 && big.GetConnections() == 0
	})
	if d := time.Since(killed); d > ttl+500*time.Millisecond {
		t.Errorf("edge1's members vanished after %v, TTL %v", d, ttl)
	}
	t.Logf("edge1's members vanished %v after it was killed (TTL %v)", time.Since(killed).Round(10*time.Millisecond), ttl)
}
