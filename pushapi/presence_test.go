package pushapi

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/internal/push"
)

// fakePresence pages a fixed room membership and records the last query.
type fakePresence struct {
	conns  []push.PresenceConn
	listed bool
	err    error

	mu    sync.Mutex
	after string
	limit int
}

func (p *fakePresence) Presence(_ context.Context, room, after string, limit int) (push.Presence, error) {
	p.mu.Lock()
	p.after, p.limit = after, limit
	p.mu.Unlock()
	if p.err != nil {
		return push.Presence{}, p.err
	}
	st := push.PresenceStats{Conns: int64(len(p.conns)), Users: push.DistinctUsers(p.conns), UsersExact: true}
	if !p.listed && len(p.conns) > 0 {
		return push.Presence{Stats: st}, nil
	}
	users, more := push.PagePresence(append([]push.PresenceConn(nil), p.conns...), after, limit)
	return push.Presence{Listed: true, Users: users, More: more, Stats: st}, nil
}

func (p *fakePresence) PresenceStats(_ context.Context, room string) (push.PresenceStats, error) {
	if p.err != nil {
		return push.PresenceStats{}, p.err
	}
	return push.PresenceStats{Conns: int64(len(p.conns)), Users: push.DistinctUsers(p.conns), UsersExact: true}, nil
}

func TestPresenceMethods(t *testing.T) {
	t.Parallel()
	none := runServer(t, Config{})
	c := none.client(protocols[0], "Bearer "+testKey)
	if _, err := c.Presence(t.Context(), connect.NewRequest(&pushv1.PresenceRequest{Room: "r"})); connect.CodeOf(err) != connect.CodeUnimplemented {
		t.Fatalf("without presence: %v, want Unimplemented", err)
	}
	if _, err := c.PresenceStats(t.Context(), connect.NewRequest(&pushv1.PresenceStatsRequest{Room: "r"})); connect.CodeOf(err) != connect.CodeUnimplemented {
		t.Fatalf("without presence: %v, want Unimplemented", err)
	}

	fp := &fakePresence{listed: true, conns: []push.PresenceConn{
		{Key: "k3", User: "bob", Edge: "e2"},
		{Key: "k1", User: "alice", Edge: "e1", Info: `{"n":1}`},
		{Key: "k2", User: "alice", Edge: "e2"},
		{Key: "k4", User: "carol/\u00e9", Edge: "e1"},
	}}
	ts := runServer(t, Config{Presence: fp})
	for _, p := range protocols {
		c := ts.client(p, "Bearer "+testKey)
		ctx := t.Context()
		var users []string
		cursor := ""
		for pages := 0; ; pages++ {
			rsp, err := c.Presence(ctx, connect.NewRequest(&pushv1.PresenceRequest{Room: "r", Limit: 1, Cursor: cursor}))
			if err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			m := rsp.Msg
			if !m.GetListed() || m.GetConnections() != 4 || m.GetUserCount() != 3 || len(m.GetUsers()) != 1 {
				t.Fatalf("%s: page %v", p.name, m)
			}
			users = append(users, m.GetUsers()[0].GetUser())
			if m.GetUsers()[0].GetUser() == "alice" {
				cs := m.GetUsers()[0].GetConnections()
				if len(cs) != 2 || cs[0].GetKey() != "k1" || cs[0].GetEdge() != "e1" || cs[0].GetInfo() != `{"n":1}` || cs[1].GetKey() != "k2" {
					t.Fatalf("%s: alice's connections %v", p.name, cs)
				}
			}
			if m.GetTruncated() != (m.GetNextCursor() != "") {
				t.Fatalf("%s: truncated %v with cursor %q", p.name, m.GetTruncated(), m.GetNextCursor())
			}
			if !m.GetTruncated() {
				break
			}
			cursor = m.GetNextCursor()
		}
		if strings.Join(users, ",") != "alice,bob,carol/\u00e9" {
			t.Fatalf("%s: pages listed %v", p.name, users)
		}
		st, err := c.PresenceStats(ctx, connect.NewRequest(&pushv1.PresenceStatsRequest{Room: "r"}))
		if err != nil || st.Msg.GetConnections() != 4 || st.Msg.GetUsers() != 3 || !st.Msg.GetUsersExact() {
			t.Fatalf("%s: PresenceStats %v, %v", p.name, st, err)
		}
	}
	// limit 0 means 100.
	c = ts.client(protocols[0], "Bearer "+testKey)
	if _, err := c.Presence(t.Context(), connect.NewRequest(&pushv1.PresenceRequest{Room: "r"})); err != nil || fp.limit != DefaultPresenceLimit {
		t.Fatalf("limit 0: %v, store asked for %d", err, fp.limit)
	}

	// Counts only: no users, the counts all the same.
	fp2 := &fakePresence{conns: fp.conns}
	c2 := runServer(t, Config{Presence: fp2}).client(protocols[0], "Bearer "+testKey)
	rsp, err := c2.Presence(t.Context(), connect.NewRequest(&pushv1.PresenceRequest{Room: "r"}))
	if err != nil || rsp.Msg.GetListed() || len(rsp.Msg.GetUsers()) != 0 || rsp.Msg.GetConnections() != 4 {
		t.Fatalf("counts only: %v, %v", rsp, err)
	}

	// A failing store: Unavailable, without its error.
	fp3 := &fakePresence{err: errors.New("redis: connection refused")}
	c3 := runServer(t, Config{Presence: fp3}).client(protocols[0], "Bearer "+testKey)
	_, err = c3.Presence(t.Context(), connect.NewRequest(&pushv1.PresenceRequest{Room: "r"}))
	if connect.CodeOf(err) != connect.CodeUnavailable || strings.Contains(err.Error(), "redis") {
		t.Fatalf("store down: %v", err)
	}
	_, err = c3.PresenceStats(t.Context(), connect.NewRequest(&pushv1.PresenceStatsRequest{Room: "r"}))
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("store down: %v", err)
	}
}

func TestPresenceValidation(t *testing.T) {
	t.Parallel()
	ts := runServer(t, Config{Presence: &fakePresence{}})
	c := ts.client(protocols[0], "Bearer "+testKey)
	for _, tc := range []struct {
		name string
		req  *pushv1.PresenceRequest
		want error
	}{
		{"no room", &pushv1.PresenceRequest{}, ErrRequired},
		{"control character", &pushv1.PresenceRequest{Room: "a\x01"}, ErrNameInvalid},
		{"long room", &pushv1.PresenceRequest{Room: strings.Repeat("r", 256)}, ErrNameLength},
		{"limit", &pushv1.PresenceRequest{Room: "r", Limit: MaxPresenceLimit + 1}, ErrLimitTooLarge},
		{"cursor not base64", &pushv1.PresenceRequest{Room: "r", Cursor: "!!"}, ErrBadCursor},
		{"cursor too long", &pushv1.PresenceRequest{Room: "r", Cursor: strings.Repeat("A", maxCursorLen+1)}, ErrBadCursor},
	} {
		_, err := c.Presence(t.Context(), connect.NewRequest(tc.req))
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), tc.want.Error()) {
			t.Errorf("%s: %v, want InvalidArgument %v", tc.name, err, tc.want)
		}
	}
	_, err := c.PresenceStats(t.Context(), connect.NewRequest(&pushv1.PresenceStatsRequest{}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("PresenceStats without room: %v", err)
	}
	if _, err := c.Presence(t.Context(), connect.NewRequest(&pushv1.PresenceRequest{Room: "r", Limit: MaxPresenceLimit})); err != nil {
		t.Errorf("limit %d: %v", MaxPresenceLimit, err)
	}
}
