package edge

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/wire"
)

func TestHubRegisterLookupUnregister(t *testing.T) {
	e := offlineEdge(t, nil)
	defer e.Close()
	a1, _ := attach(t, e, "alice")
	a2, _ := attach(t, e, "alice")
	b, _ := attach(t, e, "bob")
	for _, s := range []*session{a1, a2, b} {
		if got := e.hub.lookup(s.key); got != s {
			t.Fatalf("lookup(%s) = %p, want %p", s.key, got, s)
		}
	}
	if e.hub.lookup("nobody") != nil {
		t.Fatal("lookup of an unknown key found a session")
	}
	if got := userSessions(e, "alice"); !sameSessions(got, a1, a2) {
		t.Fatalf("forUser(alice) = %v", got)
	}
	e.hub.unregister(a1)
	if e.hub.lookup(a1.key) != nil {
		t.Fatal("unregistered session still found")
	}
	if got := userSessions(e, "alice"); !sameSessions(got, a2) {
		t.Fatalf("forUser(alice) after unregister = %v", got)
	}
	e.hub.unregister(a2)
	if got := userSessions(e, "alice"); len(got) != 0 {
		t.Fatalf("forUser(alice) with no session = %v", got)
	}
	if snap := e.Snapshot(); !maps.Equal(snap.Conns, map[string]string{b.key: "bob"}) {
		t.Fatalf("snapshot conns %v", snap.Conns)
	}
}

func userSessions(e *Edge, user string) []*session {
	var out []*session
	e.hub.forUser(user, func(s *session) { out = append(out, s) })
	return out
}

func sameSessions(got []*session, want ...*session) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

// join, leave and unregister move the room's members, counts and fan-out.
func TestHubJoinLeave(t *testing.T) {
	e := offlineEdge(t, nil)
	defer e.Close()
	var ss []*session
	for i := range 3 {
		s, _ := attach(t, e, "u"+strconv.Itoa(i))
		if err := joinRoom(e, s, "r"); err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	if err := joinRoom(e, ss[0], "other"); err != nil {
		t.Fatal(err)
	}
	if n := e.hub.enqueueRoom("r", pong(1, 0)); n != 3 {
		t.Fatalf("room fan-out reached %d, want 3", n)
	}
	if snap := e.Snapshot(); !maps.Equal(snap.Rooms, map[string]int{"r": 3, "other": 1}) {
		t.Fatalf("snapshot rooms %v", snap.Rooms)
	}
	leaveRoom(e, ss[1], "r")
	e.hub.unregister(ss[0])
	if n := e.hub.enqueueRoom("r", pong(2, 0)); n != 1 {
		t.Fatalf("room fan-out after a leave and an unregister reached %d, want 1", n)
	}
	if n := e.hub.enqueueRoom("other", pong(3, 0)); n != 0 {
		t.Fatalf("fan-out to a room left empty reached %d", n)
	}
	if snap := e.Snapshot(); !maps.Equal(snap.Rooms, map[string]int{"r": 1}) {
		t.Fatalf("snapshot rooms %v", snap.Rooms)
	}
	if n := e.hub.enqueueAll(pong(4, 0)); n != 2 {
		t.Fatalf("broadcast reached %d, want the 2 registered", n)
	}
}

// joinRoom and leaveRoom do what a session's Join and Leave do to the hub.
func joinRoom(e *Edge, s *session, room string) error {
	if err := e.hub.join(s, room); err != nil {
		return err
	}
	if s.rooms == nil {
		s.rooms = make(map[string]struct{})
	}
	s.rooms[room] = struct{}{}
	return nil
}

func leaveRoom(e *Edge, s *session, room string) {
	delete(s.rooms, room)
	e.hub.leave(s, room)
}

// register refuses a user's connection past MaxConnsPerUser (3007) and
// every connection once the edge drains (3000).
func TestHubRegisterRefuses(t *testing.T) {
	e := offlineEdge(t, func(c *Config) { c.MaxConnsPerUser = 2 })
	defer e.Close()
	attach(t, e, "u")
	attach(t, e, "u")
	s := newSession(e, newFakeTransport(), time.Time{})
	s.ident.User, s.key = "u", e.newKey()
	if d := e.hub.register(s); d.code != wire.CodeConnectionLimit || d.reason != "too many connections for this user" {
		t.Fatalf("third connection of a user: %v, want 3007", d)
	}
	attach(t, e, "v")
	e.hub.draining.Store(true)
	s = newSession(e, newFakeTransport(), time.Time{})
	s.ident.User, s.key = "w", e.newKey()
	if d := e.hub.register(s); d.code != wire.CodeShutdown || d.reason != "edge is draining" {
		t.Fatalf("register while draining: %v, want 3000", d)
	}
	if on, _ := e.Online(context.Background(), nil, 0); on.Total != 3 {
		t.Fatalf("total %d, want the 3 admitted", on.Total)
	}
}

// Online counts the rooms asked for (zero for an empty one) and lists the
// top rooms by count, then by name.
func TestHubOnline(t *testing.T) {
	e := offlineEdge(t, func(c *Config) { c.Shards = 4 })
	defer e.Close()
	sizes := map[string]int{"a": 3, "b": 5, "c": 3, "d": 1}
	i := 0
	for room, n := range sizes {
		for range n {
			s, _ := attach(t, e, "u"+strconv.Itoa(i))
			i++
			if err := joinRoom(e, s, room); err != nil {
				t.Fatal(err)
			}
		}
	}
	attach(t, e, "roomless")
	on, err := e.Online(context.Background(), []string{"a", "d", "empty"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if on.Total != 13 {
		t.Fatalf("total %d, want 13", on.Total)
	}
	if want := map[string]int64{"a": 3, "d": 1, "empty": 0}; !maps.Equal(on.Rooms, want) {
		t.Fatalf("rooms %v, want %v", on.Rooms, want)
	}
	if want := []push.RoomCount{{Room: "b", Count: 5}, {Room: "a", Count: 3}, {Room: "c", Count: 3}}; !slices.Equal(on.Top, want) {
		t.Fatalf("top %v, want %v", on.Top, want)
	}
	if on, _ := e.Online(context.Background(), nil, 0); len(on.Top) != 0 {
		t.Fatalf("top %v without asking for it", on.Top)
	}
}

// recorder is a RouteRecorder that remembers what it was told.
type recorder struct {
	mu     sync.Mutex
	conns  map[string]string
	counts []string // "room=n", in order
	err    error
}

func (r *recorder) Connected(_ context.Context, key, user string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.conns[key] = user
	return nil
}

func (r *recorder) Disconnected(key, _ string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, key)
}

func (r *recorder) RoomCount(_ context.Context, room string, n int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.counts = append(r.counts, room+"="+strconv.Itoa(n))
	return nil
}

// In a cluster the hub reports connections and room counts to the route
// store; a room the store cannot record is not joined.
func TestHubReportsRoutes(t *testing.T) {
	rec := &recorder{conns: make(map[string]string)}
	e := offlineEdge(t, func(c *Config) { c.Routes = rec })
	defer e.Close()
	a, _ := attach(t, e, "alice")
	b, _ := attach(t, e, "bob")
	for _, s := range []*session{a, b} {
		if err := e.hub.recordConnected(s); err != nil {
			t.Fatal(err)
		}
		if err := joinRoom(e, s, "r"); err != nil {
			t.Fatal(err)
		}
	}
	leaveRoom(e, a, "r")
	e.hub.unregister(b)
	if want := []string{"r=1", "r=2", "r=1", "r=0"}; !slices.Equal(rec.counts, want) {
		t.Fatalf("room counts reported %v, want %v", rec.counts, want)
	}
	if want := map[string]string{a.key: "alice"}; !maps.Equal(rec.conns, want) {
		t.Fatalf("connections recorded %v, want %v", rec.conns, want)
	}
	rec.err = context.DeadlineExceeded
	if err := e.hub.join(a, "down"); err == nil {
		t.Fatal("join succeeded with the route store down")
	}
	if n := e.hub.enqueueRoom("down", pong(1, 0)); n != 0 {
		t.Fatal("a failed join left a member")
	}
	if err := e.hub.recordConnected(a); err == nil {
		t.Fatal("recordConnected succeeded with the route store down")
	}
}

var errRouteDown = errors.New("route store down")
