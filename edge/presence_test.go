package edge

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/namespace"
)

// presenceRecorder is a recorder that also takes presence changes.
type presenceRecorder struct {
	recorder
	pmu     sync.Mutex
	changes []push.PresenceChange
}

func (r *presenceRecorder) RoomPresence(c push.PresenceChange) {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	r.changes = append(r.changes, c)
}

func (r *presenceRecorder) last() push.PresenceChange {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	return r.changes[len(r.changes)-1]
}

func presenceUsers(p push.Presence) string {
	out := ""
	for _, u := range p.Users {
		out += u.User + "["
		for _, c := range u.Conns {
			out += c.Key + c.Info + " "
		}
		out += "]"
	}
	return out
}

// Presence in one process lists the room's members by user, pages by user,
// counts distinct users, and holds a room past PresenceListMax as counts
// only until it falls back to half of it.
func TestHubPresence(t *testing.T) {
	e := offlineEdge(t, func(c *Config) { c.PresenceListMax = 4 })
	defer e.Close()
	ctx := context.Background()
	a1, _ := attach(t, e, "alice")
	a1.ident.Info = `{"name":"A"}`
	a2, _ := attach(t, e, "alice")
	b, _ := attach(t, e, "bob")
	for _, s := range []*session{a1, a2, b} {
		if err := joinRoom(e, s, "r"); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := e.Presence(ctx, "r", "", 10)
	k1, k2 := a1.key, a2.key
	if k2 < k1 {
		k1, k2 = k2, k1
	}
	info1, info2 := "", ""
	if k1 == a1.key {
		info1 = `{"name":"A"}`
	} else {
		info2 = `{"name":"A"}`
	}
	want := fmt.Sprintf("alice[%s%s %s%s ]bob[%s ]", k1, info1, k2, info2, b.key)
	if got := presenceUsers(p); got != want || !p.Listed || p.More || p.Stats != (push.PresenceStats{Conns: 3, Users: 2, UsersExact: true}) {
		t.Fatalf("Presence = %s %+v, want %s", got, p, want)
	}
	if p.Users[0].Conns[0].Edge != e.cfg.ID {
		t.Fatalf("edge id %q, want %q", p.Users[0].Conns[0].Edge, e.cfg.ID)
	}
	p, _ = e.Presence(ctx, "r", "", 1)
	if len(p.Users) != 1 || p.Users[0].User != "alice" || !p.More {
		t.Fatalf("page 1 = %+v", p)
	}
	p, _ = e.Presence(ctx, "r", "alice", 1)
	if len(p.Users) != 1 || p.Users[0].User != "bob" || p.More {
		t.Fatalf("page 2 = %+v", p)
	}

	// Past 4 members: counts only, still counted.
	var extra []*session
	for i := range 2 {
		s, _ := attach(t, e, "u"+strconv.Itoa(i))
		if err := joinRoom(e, s, "r"); err != nil {
			t.Fatal(err)
		}
		extra = append(extra, s)
	}
	p, _ = e.Presence(ctx, "r", "", 10)
	if p.Listed || len(p.Users) != 0 || p.Stats != (push.PresenceStats{Conns: 5, Users: 4, UsersExact: true}) {
		t.Fatalf("Presence past the threshold = %+v", p)
	}
	// 3 members is above half of 4: still counts only; 2 lists again.
	leaveRoom(e, extra[0], "r")
	leaveRoom(e, extra[1], "r")
	if p, _ = e.Presence(ctx, "r", "", 10); p.Listed {
		t.Fatalf("listed again at 3 members: %+v", p)
	}
	e.hub.unregister(a2)
	if p, _ = e.Presence(ctx, "r", "", 10); !p.Listed || len(p.Users) != 2 {
		t.Fatalf("not listed again at 2 members: %+v", p)
	}
	st, _ := e.PresenceStats(ctx, "r")
	if st != (push.PresenceStats{Conns: 2, Users: 2, UsersExact: true}) {
		t.Fatalf("PresenceStats = %+v", st)
	}
	leaveRoom(e, a1, "r")
	leaveRoom(e, b, "r")
	if p, _ = e.Presence(ctx, "r", "", 10); !p.Listed || len(p.Users) != 0 || p.Stats.Conns != 0 {
		t.Fatalf("Presence of an empty room = %+v", p)
	}
}

// A namespace with presence off keeps its rooms counts only, whatever their
// size, and leaves other rooms listed.
func TestHubPresenceOffByNamespace(t *testing.T) {
	off, err := namespace.Parse("quiet/:presence=off")
	if err != nil {
		t.Fatal(err)
	}
	e := offlineEdge(t, func(c *Config) {
		c.PresenceListMax = 4
		c.Namespaces = &namespace.Set{Namespaces: []namespace.Namespace{off}}
	})
	defer e.Close()
	ctx := context.Background()
	if p, _ := e.Presence(ctx, "quiet/1", "", 10); p.Listed {
		t.Fatalf("empty room of a namespace without presence listed: %+v", p)
	}
	a, _ := attach(t, e, "alice")
	for _, room := range []string{"quiet/1", "loud"} {
		if err := joinRoom(e, a, room); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := e.Presence(ctx, "quiet/1", "", 10)
	if p.Listed || len(p.Users) != 0 || p.Stats != (push.PresenceStats{Conns: 1, Users: 1, UsersExact: true}) {
		t.Fatalf("room of a namespace without presence = %+v", p)
	}
	if p, _ = e.Presence(ctx, "loud", "", 10); !p.Listed || len(p.Users) != 1 {
		t.Fatalf("room of the default namespace = %+v", p)
	}
	// Falling to no members and back does not list it either.
	leaveRoom(e, a, "quiet/1")
	if err := joinRoom(e, a, "quiet/1"); err != nil {
		t.Fatal(err)
	}
	if p, _ = e.Presence(ctx, "quiet/1", "", 10); p.Listed {
		t.Fatalf("listed after a rejoin: %+v", p)
	}
}

// In a cluster the hub reports each arrival and departure with the room's
// counts and listing state, in order.
func TestHubReportsPresence(t *testing.T) {
	rec := &presenceRecorder{recorder: recorder{conns: make(map[string]string)}}
	e := offlineEdge(t, func(c *Config) { c.Routes = rec; c.PresenceListMax = 2 })
	defer e.Close()
	a, _ := attach(t, e, "alice")
	a.ident = auth.Identity{User: "alice", Rooms: []string{"*"}, Info: `{"a":1}`}
	b, _ := attach(t, e, "bob")
	c, _ := attach(t, e, "bob")
	for _, s := range []*session{a, b, c} {
		if err := joinRoom(e, s, "r"); err != nil {
			t.Fatal(err)
		}
	}
	got := rec.changes
	if len(got) != 3 || got[0] != (push.PresenceChange{Room: "r", Conn: push.PresenceConn{Key: a.key, User: "alice", Edge: e.cfg.ID, Info: `{"a":1}`}, Joined: true, Members: 1, Users: 1, Listed: true}) {
		t.Fatalf("first change %+v", got)
	}
	if l := rec.last(); l.Members != 3 || l.Users != 2 || l.Listed {
		t.Fatalf("third join reported %+v, want 3 members, 2 users, counts only", l)
	}
	e.hub.unregister(c)
	if l := rec.last(); l.Joined || l.Conn.Key != c.key || l.Members != 2 || l.Users != 2 || l.Listed {
		t.Fatalf("departure reported %+v", l)
	}
	leaveRoom(e, b, "r")
	if l := rec.last(); l.Members != 1 || l.Users != 1 || !l.Listed {
		t.Fatalf("down to half: %+v, want listed", l)
	}
	leaveRoom(e, a, "r")
	if l := rec.last(); l.Members != 0 || l.Users != 0 {
		t.Fatalf("room emptied: %+v", l)
	}
}
