package pushapi

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/internal/push"
)

// fakeServerRooms records what Subscribe and Unsubscribe remember.
type fakeServerRooms struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (f *fakeServerRooms) Add(_ context.Context, room string, users []string) error {
	return f.record("+"+room, users)
}

func (f *fakeServerRooms) Remove(_ context.Context, room string, users []string) error {
	return f.record("-"+room, users)
}

func (f *fakeServerRooms) record(op string, users []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.calls = append(f.calls, op+" "+strings.Join(users, ","))
	return nil
}

// TestSubscribe: Subscribe and Unsubscribe remember the users' rooms (not
// the keys'), then publish their orders; bad requests and a failing store
// publish nothing; push: keys may call them.
func TestSubscribe(t *testing.T) {
	t.Parallel()
	rooms := &fakeServerRooms{}
	ts := runServer(t, Config{ServerRooms: rooms, APIKeys: []string{"push:" + testKey}})
	c := ts.client(protocols[0], "Bearer "+testKey)
	ctx := t.Context()
	if _, err := c.Subscribe(ctx, connect.NewRequest(&pushv1.SubscribeRequest{Room: "r", Users: []string{"a", "b"}, Keys: []string{"k"}})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Unsubscribe(ctx, connect.NewRequest(&pushv1.UnsubscribeRequest{Room: "r", Keys: []string{"k"}})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Unsubscribe(ctx, connect.NewRequest(&pushv1.UnsubscribeRequest{Room: "r", Users: []string{"b"}})); err != nil {
		t.Fatal(err)
	}
	if want := []string{"+r a,b", "-r b"}; !slices.Equal(rooms.calls, want) {
		t.Fatalf("store calls %v, want %v", rooms.calls, want)
	}
	got := ts.pub.published()
	if len(got) != 3 || got[0].Kind != push.KindSubscribe || got[0].Room != "r" || !slices.Equal(got[0].Users, []string{"a", "b"}) ||
		!slices.Equal(got[0].Keys, []string{"k"}) || got[1].Kind != push.KindUnsubscribe || got[2].Kind != push.KindUnsubscribe {
		t.Fatalf("published %+v", got)
	}

	for name, req := range map[string]*pushv1.SubscribeRequest{
		"no target":  {Room: "r"},
		"no room":    {Users: []string{"a"}},
		"bad room":   {Room: "a\nb", Users: []string{"a"}},
		"empty user": {Room: "r", Users: []string{""}},
	} {
		if _, err := c.Subscribe(ctx, connect.NewRequest(req)); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("%s: %v, want invalid_argument", name, err)
		}
	}
	rooms.mu.Lock()
	rooms.err = errors.New("redis down")
	rooms.mu.Unlock()
	_, err := c.Subscribe(ctx, connect.NewRequest(&pushv1.SubscribeRequest{Room: "r", Users: []string{"a"}}))
	if connect.CodeOf(err) != connect.CodeUnavailable || !errors.Is(err, ErrServerRoomsUnavailable) && !strings.Contains(err.Error(), ErrServerRoomsUnavailable.Error()) {
		t.Fatalf("store down: %v, want unavailable", err)
	}
	if n := len(ts.pub.published()); n != 3 {
		t.Fatalf("%d published, want the 3 valid calls only", n)
	}
}
