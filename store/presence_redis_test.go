package store

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quicpush/quicpush/internal/push"
)

// presenceEdge is an edge's room membership, as edge.Edge would hold it,
// reported to its EdgeRoutes the way the hub reports it.
type presenceEdge struct {
	*fakeEdge
	id      string
	mu      sync.Mutex
	members map[string]map[string]push.PresenceConn // room -> key -> member
	listMax int
	listed  map[string]bool
	users   map[string]map[string]int // room -> user -> connections
}

func newPresenceEdge(t *testing.T, c redis.UniversalClient, id string, listMax int, tweak ...func(*EdgeRoutesConfig)) *presenceEdge {
	t.Helper()
	pe := &presenceEdge{id: id, members: make(map[string]map[string]push.PresenceConn), listMax: listMax, listed: make(map[string]bool), users: make(map[string]map[string]int)}
	pe.fakeEdge = newEdge(t, c, id, func(cfg *EdgeRoutesConfig) {
		cfg.Members = pe.roomMembers
		cfg.FlushInterval = time.Millisecond
		for _, fn := range tweak {
			fn(cfg)
		}
	})
	return pe
}

func (pe *presenceEdge) roomMembers(room string) []push.PresenceConn {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	var out []push.PresenceConn
	for _, m := range pe.members[room] {
		out = append(out, m)
	}
	return out
}

// change joins (or leaves) key of user to room and reports it with the
// room's counts, listing it while it has at most listMax members and again
// once it falls to half of that, as the hub does.
func (pe *presenceEdge) change(t *testing.T, room, key, user, info string, joined bool) {
	t.Helper()
	pe.mu.Lock()
	ms := pe.members[room]
	if ms == nil {
		ms = make(map[string]push.PresenceConn)
		pe.members[room] = ms
		pe.listed[room] = true
		pe.users[room] = make(map[string]int)
	}
	users := pe.users[room]
	if joined {
		ms[key] = push.PresenceConn{Key: key, User: user, Edge: pe.id, Info: info}
		users[user]++
	} else {
		delete(ms, key)
		if users[user]--; users[user] <= 0 {
			delete(users, user)
		}
	}
	n := len(ms)
	switch {
	case n > pe.listMax:
		pe.listed[room] = false
	case n <= pe.listMax/2:
		pe.listed[room] = true
	}
	listed := pe.listed[room]
	if n == 0 {
		delete(pe.members, room)
		delete(pe.listed, room)
		delete(pe.users, room)
	}
	pe.mu.Unlock()
	pe.join(t, room, n) // waits for Redis only when it opens the room
	c := push.PresenceChange{Room: room, Joined: joined, Members: n, Users: len(users), Listed: listed,
		Conn: push.PresenceConn{Key: key, User: user, Edge: pe.id, Info: info}}
	pe.RoomPresence(c)
}

func keysOf(p push.Presence) [][]string {
	var out [][]string
	for _, u := range p.Users {
		row := []string{u.User}
		for _, c := range u.Conns {
			row = append(row, c.Key+"@"+c.Edge+c.Info)
		}
		out = append(out, row)
	}
	return out
}

func wantPresence(t *testing.T, ctx context.Context, p *Presence, room string, want [][]string, st push.PresenceStats, listed bool) {
	t.Helper()
	checkFor(t, 3*time.Second, 5*time.Millisecond, func() error {
		got, err := p.Presence(ctx, room, "", 100)
		if err != nil {
			return err
		}
		if fmt.Sprint(keysOf(got)) != fmt.Sprint(want) || got.Stats != st || got.Listed != listed || got.More {
			return fmt.Errorf("Presence(%s) = %v %+v listed=%v more=%v, want %v %+v listed=%v", room, keysOf(got), got.Stats, got.Listed, got.More, want, st, listed)
		}
		sst, err := p.PresenceStats(ctx, room)
		if err != nil || sst != st {
			return fmt.Errorf("PresenceStats = %+v, %v; want %+v", sst, err, st)
		}
		return nil
	})
}

func TestPresenceAcrossEdges(t *testing.T) {
	t.Parallel()
	c, ctx := redisFixture(t)
	a := newPresenceEdge(t, c, "edgeA", 4)
	b := newPresenceEdge(t, c, "edgeB", 4)
	p := NewPresence(c, "")

	wantPresence(t, ctx, p, "r", nil, push.PresenceStats{UsersExact: true}, true)

	a.change(t, "r", "a1", "u1", `{"n":1}`, true)
	a.change(t, "r", "a2", "u2", "", true)
	b.change(t, "r", "b1", "u1", "", true)
	// u1 on both edges counts once.
	wantPresence(t, ctx, p, "r", [][]string{{"u1", `a1@edgeA{"n":1}`, "b1@edgeB"}, {"u2", "a2@edgeA"}},
		push.PresenceStats{Conns: 3, Users: 2, UsersExact: true}, true)

	// Paging: one user a page, resuming after the last one.
	page, err := p.Presence(ctx, "r", "", 1)
	if err != nil || len(page.Users) != 1 || page.Users[0].User != "u1" || !page.More {
		t.Fatalf("page 1 = %+v, %v", page, err)
	}
	page, err = p.Presence(ctx, "r", "u1", 1)
	if err != nil || len(page.Users) != 1 || page.Users[0].User != "u2" || page.More {
		t.Fatalf("page 2 = %+v, %v", page, err)
	}

	a.change(t, "r", "a2", "u2", "", false)
	wantPresence(t, ctx, p, "r", [][]string{{"u1", `a1@edgeA{"n":1}`, "b1@edgeB"}},
		push.PresenceStats{Conns: 2, Users: 1, UsersExact: true}, true)

	// Past edge B's threshold (4) the room is counts only there: no
	// listing, B's own distinct users added to A's (u1 twice now).
	for i := 2; i <= 5; i++ {
		b.change(t, "r", "b"+strconv.Itoa(i), "v"+strconv.Itoa(i), "", true)
	}
	wantPresence(t, ctx, p, "r", nil, push.PresenceStats{Conns: 6, Users: 1 + 5, UsersExact: false}, false)
	if n := c.HLen(ctx, "qp:edge:edgeB:presence:r").Val(); n != 1 {
		t.Fatalf("edge B's counts-only listing holds %d fields, want the header alone", n)
	}
	// Down to half the threshold: listed again, whole.
	for i := 2; i <= 4; i++ {
		b.change(t, "r", "b"+strconv.Itoa(i), "v"+strconv.Itoa(i), "", false)
	}
	wantPresence(t, ctx, p, "r", [][]string{{"u1", `a1@edgeA{"n":1}`, "b1@edgeB"}, {"v5", "b5@edgeB"}},
		push.PresenceStats{Conns: 3, Users: 2, UsersExact: true}, true)

	// An edge killed: its members vanish as soon as its registration
	// expires, and the cleanup removes its listing.
	crash(b.EdgeRoutes)
	wantPresence(t, ctx, p, "r", [][]string{{"u1", `a1@edgeA{"n":1}`}},
		push.PresenceStats{Conns: 1, Users: 1, UsersExact: true}, true)
	if res, err := cleanupEdge(ctx, c, newKeys(""), "edgeB", time.Now()); err != nil || res != cleanupDone {
		t.Fatalf("cleanupEdge = %v, %v", res, err)
	}
	if n := c.Exists(ctx, "qp:edge:edgeB:presence:r").Val(); n != 0 {
		t.Fatal("a dead edge's listing survived its cleanup")
	}

	// The room emptied: nothing left of it.
	a.change(t, "r", "a1", "u1", "", false)
	wantPresence(t, ctx, p, "r", nil, push.PresenceStats{UsersExact: true}, true)
	checkFor(t, 3*time.Second, 5*time.Millisecond, func() error {
		if n := c.Exists(ctx, "qp:edge:edgeA:presence:r").Val(); n != 0 {
			return errNotYet
		}
		return nil
	})
}

func TestPresenceRepublish(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	c := newClient(t, srv.Addr())
	ctx := testCtx(t)
	a := newPresenceEdge(t, c, "edgeA", 1000)
	p := NewPresence(c, "")
	a.change(t, "r", "a1", "u1", "", true)
	a.change(t, "r", "a2", "u2", `{"x":true}`, true)
	want := [][]string{{"u1", "a1@edgeA"}, {"u2", `a2@edgeA{"x":true}`}}
	wantPresence(t, ctx, p, "r", want, push.PresenceStats{Conns: 2, Users: 2, UsersExact: true}, true)
	restartRedis(t, srv)
	wantPresence(t, ctx, p, "r", want, push.PresenceStats{Conns: 2, Users: 2, UsersExact: true}, true)
}

// countingHook counts the commands a client sends, pipelined or not.
type countingHook struct{ n atomic.Int64 }

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// TestPresenceChurnCost joins and leaves 10,000 connections on one edge,
// in a room it lists and in one past its threshold, and checks that the
// writes stay coalesced: far fewer commands than changes. It logs the
// figures: commands sent (heartbeats included) and time.
func TestPresenceChurnCost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		resident int // members that stay: the room's size during the churn
		listMax  int
		off      bool // presence not recorded: the routes and counts alone
	}{
		{"listed-100", 100, 1000, false},
		{"listed-900", 900, 1000, false},
		{"counts-only", 2000, 1000, false},
		{"presence-off", 100, 1000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ctx := redisFixture(t)
			hook := &countingHook{}
			c.AddHook(hook)
			a := newPresenceEdge(t, c, "edgeA", tc.listMax, func(cfg *EdgeRoutesConfig) {
				if tc.off {
					cfg.Members = nil
				}
			})
			for i := range tc.resident {
				a.change(t, "r", "res"+strconv.Itoa(i), "ru"+strconv.Itoa(i), "", true)
			}
			waitFlushed(t, a.EdgeRoutes)
			before, flushes := hook.n.Load(), counterValue(t, a.metrics.flushes)
			start := time.Now()
			const churn = 5000 // 5,000 joins and 5,000 leaves
			for i := range churn {
				a.change(t, "r", "k"+strconv.Itoa(i), "u"+strconv.Itoa(i), "", true)
				a.change(t, "r", "k"+strconv.Itoa(i), "u"+strconv.Itoa(i), "", false)
			}
			waitFlushed(t, a.EdgeRoutes)
			// Written once the counts read back (the last flush is done).
			checkFor(t, 5*time.Second, time.Millisecond, func() error {
				st, err := NewPresence(newClient(t, c.Options().Addr), "").PresenceStats(ctx, "r")
				if err != nil || st.Conns != int64(tc.resident) || (!tc.off && st.Users != int64(tc.resident)) {
					return fmt.Errorf("PresenceStats after churn = %+v, %v; want %d", st, err, tc.resident)
				}
				return nil
			})
			cmds, took := hook.n.Load()-before, time.Since(start)
			flushes = counterValue(t, a.metrics.flushes) - flushes
			t.Logf("%s room of %d: %d joins+leaves -> %d Redis commands (heartbeats included) in %.0f flushes, %v",
				tc.name, tc.resident, 2*churn, cmds, flushes, took.Round(time.Millisecond))
			if cmds > churn {
				t.Errorf("%d commands for %d changes: writes are not coalesced", cmds, 2*churn)
			}
		})
	}
}

// waitFlushed waits until p has nothing pending.
func waitFlushed(t *testing.T, p *EdgeRoutes) {
	t.Helper()
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.pend.size() > 0 {
			return errNotYet
		}
		return nil
	})
}
