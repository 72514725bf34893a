package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kfake"

	quicpush "github.com/quicpush/quicpush/clients/go"
	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
)

// Redis is killed (SIGKILL) and comes back empty five times while a room and
// the members' user streams are pushed to, with members on two edges. Every
// push the API acknowledged must reach every member, or the member's client
// must have been told NotRecovered. Between Redis's return and the edges'
// republish (their next heartbeat, within a third of the registry TTL) the
// store says the room has no edge: core must hold its batches rather than
// deliver them to nobody and commit them. A member that stayed connected
// throughout must have everything, with no NotRecovered at all.
func TestClusterRedisRestartsLoseNoPush(t *testing.T) {
	kf, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kf.Close)
	const (
		ttl      = 3 * time.Second
		restarts = 5
		members  = 16
	)
	c := startClusterTTL(t, kf.ListenAddrs(), ttl, 2, 2)
	api := c.apiClient()

	type member struct {
		user string
		in   *inbox
		mu   sync.Mutex
		lost int // NotRecovered events
	}
	ms := make([]*member, members)
	// The members' inboxes come from edgeClient; each member's own
	// NotRecovered count from its recovery callback.
	users := make([]string, members)
	for i := range ms {
		m := &member{user: fmt.Sprintf("u%d", i)}
		ms[i], users[i] = m, m.user
		e := c.edges[i%len(c.edges)]
		eps := []string{"quic://" + e.Edge.QUICAddr().String() + " tcp://" + e.Edge.TCPAddr().String()}
		_, in := edgeClient(t, c.cert, eps, m.user, []string{"lobby"}, 10*time.Second, quicpush.WithOnRecovery(func(ev quicpush.RecoveryEvent) {
			if !ev.Recovered {
				m.mu.Lock()
				m.lost++
				m.mu.Unlock()
			}
		}))
		m.in = in
	}
	first := pushRoomCluster(t, api, "lobby", "before")
	eventually(t, 5*time.Second, "the first push", func() bool {
		for _, m := range ms {
			if !m.in.has(first) {
				return false
			}
		}
		return true
	})

	var (
		mu    sync.Mutex
		acked []string
		stop  = make(chan struct{})
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			// Not acknowledged (Redis down for the API's idempotency
			// check, say): nothing was promised.
			var id string
			if n%2 == 0 {
				rsp, err := api.PushRoom(t.Context(), connect.NewRequest(&pushv1.PushRoomRequest{Room: "lobby", Text: "during"}))
				if err != nil {
					continue
				}
				id = rsp.Msg.GetMessageId()
			} else {
				rsp, err := api.PushUsers(t.Context(), connect.NewRequest(&pushv1.PushUsersRequest{Users: users, Text: "during"}))
				if err != nil {
					continue
				}
				id = rsp.Msg.GetMessageId()
			}
			mu.Lock()
			acked = append(acked, id)
			mu.Unlock()
		}
	}()
	for i := range restarts {
		time.Sleep(700 * time.Millisecond)
		if err := c.redis.Kill(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if err := c.redis.Restart(t.Context()); err != nil {
			t.Fatalf("restart %d: %v", i+1, err)
		}
	}
	restarted := time.Now()
	time.Sleep(time.Second)
	close(stop)
	<-done

	mu.Lock()
	ids := append([]string(nil), acked...)
	mu.Unlock()
	if len(ids) < 100 {
		t.Fatalf("only %d pushes acknowledged", len(ids))
	}
	missing := func(m *member) int {
		n := 0
		for _, id := range ids {
			if !m.in.has(id) {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(ttl + 15*time.Second)
	for time.Now().Before(deadline) {
		left := 0
		for _, m := range ms {
			left += missing(m)
		}
		if left == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stayed, told := 0, 0
	for _, m := range ms {
		m.mu.Lock()
		lost := m.lost
		m.mu.Unlock()
		n, conns := missing(m), m.in.connects()
		switch {
		case conns == 1 && (n > 0 || lost > 0):
			t.Errorf("%s stayed connected: %d of %d acknowledged pushes missing, %d NotRecovered", m.user, n, len(ids), lost)
		case n > 0 && lost == 0:
			t.Errorf("%s (%d connects): %d of %d acknowledged pushes missing and never told NotRecovered", m.user, conns, n, len(ids))
		}
		if conns == 1 {
			stayed++
		}
		if lost > 0 {
			told++
		}
	}
	if stayed != members {
		t.Errorf("%d of %d members reconnected: a Redis restart must not cut clients", members-stayed, members)
	}
	t.Logf("%d restarts, %d pushes acknowledged, %d of %d members stayed connected, %d told NotRecovered; all settled %v after the last restart",
		restarts, len(ids), stayed, members, told, time.Since(restarted))
}
