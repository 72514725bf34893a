package main

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/gen/quicpush/push/v1/pushv1connect"
)

// pushTarget is where one push goes: a room (PushRoom) or a user
// (PushUsers).
type pushTarget struct {
	room, user string
}

// pusher calls PushRoom (or PushUsers) at a steady rate over one HTTP/2
// (h2c) connection, with binary protobuf, from a few workers so a slow call
// does not hold the pace back.
type pusher struct {
	client  pushv1connect.PushServiceClient
	apiKey  string
	room    string
	payload int
	// pick chooses the target of push n (numbered from 0); nil sends every
	// push to room. numbered adds "n":<n> to the payload, and done, when
	// set, hears how each push ended.
	pick     func(n int64) pushTarget
	numbered bool
	done     func(n, t int64, err error)

	// Pushes stamped in [winStart, winEnd) are counted as the measurement.
	winStart, winEnd atomic.Int64

	accepted  atomic.Int64 // in-window pushes the API accepted
	failed    atomic.Int64 // in-window pushes the API refused or that timed out
	sent      atomic.Int64 // every push attempted
	behind    atomic.Int64 // pushes that waited for a free worker
	callLat   histogram    // from the time a push was due to its reply, microseconds
	errs      counter
	transport *http.Transport
}

func newPusher(api, apiKey, room string, payload int) *pusher {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: p, MaxConnsPerHost: 1}
	pu := &pusher{
		client:    pushv1connect.NewPushServiceClient(&http.Client{Transport: tr}, "http://"+api),
		apiKey:    apiKey,
		room:      room,
		payload:   payload,
		transport: tr,
	}
	pu.setWindow(int64(^uint64(0)>>1), int64(^uint64(0)>>1))
	return pu
}

// warm opens the pusher's HTTP/2 connection with a cheap call (Online) and
// keeps it: a server that later runs out of file descriptors, with tens of
// thousands of clients connected, cannot accept a new API connection.
func (p *pusher) warm(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req := connect.NewRequest(&pushv1.OnlineRequest{})
	req.Header().Set("Authorization", "Bearer "+p.apiKey)
	_, err := p.client.Online(ctx, req)
	return err
}

// setWindow makes pushes stamped in [start, end) (unix nanos) count.
func (p *pusher) setWindow(start, end int64) {
	p.winStart.Store(start)
	p.winEnd.Store(end)
}

// body returns the payload: {"test":1,"t":<unix nanos>} (with "n":<n> when
// numbered) padded with a "p" field to the configured size.
func (p *pusher) body(n, t int64) string {
	b := make([]byte, 0, max(p.payload, 64))
	b = append(b, `{"test":1,"t":`...)
	b = strconv.AppendInt(b, t, 10)
	if p.numbered {
		b = append(b, `,"n":`...)
		b = strconv.AppendInt(b, n, 10)
	}
	if pad := p.payload - len(b) - len(`,"p":""}`); pad > 0 {
		b = append(b, `,"p":"`...)
		for range pad {
			b = append(b, 'x')
		}
		b = append(b, '"')
	}
	b = append(b, '}')
	return string(b)
}

// run pushes at rate per second until ctx ends, then waits for the calls in
// flight. Each push is stamped with the time it was due, not the time a
// worker got to it, so a pusher that falls behind shows as latency instead
// of hiding it.
func (p *pusher) run(ctx context.Context, rate float64, workers int) {
	if rate <= 0 {
		return
	}
	jobs := make(chan [2]int64, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				p.push(j[0], j[1])
			}
		})
	}
	// The ticker sets the pace; each tick sends what is due so far, so a
	// late tick is caught up rather than lost.
	period := max(time.Duration(float64(time.Second)/rate), time.Millisecond)
	tk := time.NewTicker(period)
	start := time.Now()
	var issued int64
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case now := <-tk.C:
			for due := int64(now.Sub(start).Seconds() * rate); issued < due; issued++ {
				t := start.Add(time.Duration(float64(issued+1) / rate * float64(time.Second))).UnixNano()
				j := [2]int64{issued, t}
				select {
				case jobs <- j:
				default:
					p.behind.Add(1)
					select {
					case jobs <- j:
					case <-ctx.Done():
						break loop
					}
				}
			}
		}
	}
	tk.Stop()
	close(jobs)
	wg.Wait()
}

func (p *pusher) push(n, t int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tgt := pushTarget{room: p.room}
	if p.pick != nil {
		tgt = p.pick(n)
	}
	var err error
	if tgt.user != "" {
		req := connect.NewRequest(&pushv1.PushUsersRequest{Users: []string{tgt.user}, Text: p.body(n, t)})
		req.Header().Set("Authorization", "Bearer "+p.apiKey)
		_, err = p.client.PushUsers(ctx, req)
	} else {
		req := connect.NewRequest(&pushv1.PushRoomRequest{Room: tgt.room, Text: p.body(n, t)})
		req.Header().Set("Authorization", "Bearer "+p.apiKey)
		_, err = p.client.PushRoom(ctx, req)
	}
	cancel()
	p.sent.Add(1)
	p.callLat.record(uint64(max(time.Now().UnixNano()-t, 0)) / 1000)
	if p.done != nil {
		p.done(n, t, err)
	}
	in := t >= p.winStart.Load() && t < p.winEnd.Load()
	if err != nil {
		p.errs.add(connect.CodeOf(err).String())
		if in {
			p.failed.Add(1)
		}
		return
	}
	if in {
		p.accepted.Add(1)
	}
}
