package edge

import (
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/namespace"
)

// BenchmarkJoinLeaveStorm measures a 10,000-member room under sustained
// churn: 1,000 changes a second (a pool of 1,000 more connections, each
// joining or leaving in turn), every iteration one second of it. It reports
// the JoinLeave frames, bytes and writes each member receives per second,
// and the process's CPU per second (per 1,000 changes, if the process could
// not make them in a second: changes/s says how many it made):
// "coalesced" is the edge's notices (the
// default 1 s interval); "per-change" has the edge's notices off and sends
// one notice per change from the harness instead, encoded once and queued to
// every member as the edge would: what the room would cost without
// coalescing. Run it with -benchtime 3x (three seconds each).
func BenchmarkJoinLeaveStorm(b *testing.B) {
	for _, mode := range []string{"coalesced", "per-change"} {
		b.Run(mode, func(b *testing.B) {
			const members, churners, perSec = 10000, 1000, 1000
			perChange := mode == "per-change"
			e := testEdge(b, func(c *Config) {
				c.MaxQueueBytes = 1 << 30
				c.Namespaces = &namespace.Set{Namespaces: []namespace.Namespace{{Prefix: "chat/", Options: namespace.Options{JoinLeave: !perChange}}}}
			})
			iv := e.cfg.JoinLeaveInterval
			const room = "chat/storm"
			sinks := addSessions(b, e, members, room)
			pool := make([]*session, churners)
			for i := range pool {
				s := newSession(e, &sinkTransport{}, time.Time{})
				s.ident = auth.Identity{User: "churn" + strconv.Itoa(i), Info: `{"name":"churner ` + strconv.Itoa(i) + `"}`}
				s.key = e.newKey()
				if e.hub.register(s).code != 0 {
					b.Fatal("register refused")
				}
				s.rooms = map[string]struct{}{}
				pool[i] = s
			}
			// Let the members' own join notice go out before measuring.
			if !perChange {
				time.Sleep(2 * iv)
			}
			var sent float64 // the per-change notices queued
			bytes0, writes0 := sinkTotals(sinks)
			frames0 := counterOf(b, e.metrics.joinLeaveNotices)
			cpu0 := cpuTime()
			b.ResetTimer()
			start := time.Now()
			// Changes are paced by the clock, not by ticks, so that a busy
			// process still makes perSec of them.
			t := time.NewTicker(time.Millisecond)
			next, total := 0, b.N*perSec
			for next < total {
				<-t.C
				for due := min(total, int(time.Since(start).Seconds()*perSec)); next < due; next++ {
					s := pool[next%churners]
					_, in := s.rooms[room]
					if in {
						delete(s.rooms, room)
						e.hub.leave(s, room)
					} else {
						s.rooms[room] = struct{}{}
						if err := e.hub.join(s, room); err != nil {
							b.Fatal(err)
						}
					}
					if perChange {
						ch := &changes{}
						ch.add(e.hub.presenceConn(s), !in)
						sent += float64(e.hub.enqueueRoom(room, encodeNotice(room, ch)))
					}
				}
			}
			t.Stop()
			churned := time.Since(start).Seconds()
			// The last interval's notice, then what is queued, go out.
			time.Sleep(iv + 100*time.Millisecond)
			b.StopTimer()
			// Figures are per second of churn at perSec: per perSec
			// changes, however long the process took to make them.
			secs := float64(next) / perSec
			bytes1, writes1 := sinkTotals(sinks)
			frames := counterOf(b, e.metrics.joinLeaveNotices) - frames0 + sent
			// Frames go to the churners in the room too: half of them on
			// average.
			b.ReportMetric(frames/(members+churners/2)/secs, "frames/member/s")
			b.ReportMetric(float64(bytes1-bytes0)/members/secs, "B/member/s")
			b.ReportMetric(float64(writes1-writes0)/members/secs, "writes/member/s")
			b.ReportMetric((cpuTime()-cpu0).Seconds()/secs, "cpu-s/s")
			b.ReportMetric(float64(next)/churned, "changes/s")
		})
	}
}

func sinkTotals(sinks []*sinkTransport) (bytes, writes int64) {
	for _, s := range sinks {
		bytes += s.bytes.Load()
		writes += s.batches.Load()
	}
	return bytes, writes
}

func counterOf(tb testing.TB, c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		tb.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
