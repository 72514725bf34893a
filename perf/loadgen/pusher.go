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

// pusher calls PushRoom at a steady rate over one HTTP/2 (h2c) connection,
// with binary protobuf, from a few workers so a slow call does not hold the
// pace back.
type pusher struct {
	client  pushv1connect.PushServiceClient
	apiKey  string
	room    string
	payload int

	// Pushes stamped in [winStart, winEnd) are counted as the measurement.
	winStart, winEnd *atomic.Int64

	accepted  atomic.Int64 // in-window pushes the API accepted
	failed    atomic.Int64 // in-window pushes the API refused or that timed out
	sent      atomic.Int64 // every push attempted
	behind    atomic.Int64 // pushes that waited for a free worker
	callLat   histogram    // from the time a push was due to its reply, microseconds
	errs      counter
	transport *http.Transport
}

func newPusher(api, apiKey, room string, payload int, winStart, winEnd *atomic.Int64) *pusher {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: p, MaxConnsPerHost: 1}
	return &pusher{
		client:    pushv1connect.NewPushServiceClient(&http.Client{Transport: tr}, "http://"+api),
		apiKey:    apiKey,
		room:      room,
		payload:   payload,
		winStart:  winStart,
		winEnd:    winEnd,
		transport: tr,
	}
}

// body returns the payload: {"test":1,"t":<unix nanos>} padded with a "p"
// field to the configured size.
func (p *pusher) body(t int64) string {
	b := make([]byte, 0, max(p.payload, 48))
	b = append(b, `{"test":1,"t":`...)
	b = strconv.AppendInt(b, t, 10)
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
	jobs := make(chan int64, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for t := range jobs {
				p.push(t)
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
				select {
				case jobs <- t:
				default:
					p.behind.Add(1)
					select {
					case jobs <- t:
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

func (p *pusher) push(t int64) {
	req := connect.NewRequest(&pushv1.PushRoomRequest{Room: p.room, Text: p.body(t)})
	req.Header().Set("Authorization", "Bearer "+p.apiKey)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err := p.client.PushRoom(ctx, req)
	cancel()
	p.sent.Add(1)
	p.callLat.record(uint64(max(time.Now().UnixNano()-t, 0)) / 1000)
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
