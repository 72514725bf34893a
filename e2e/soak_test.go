package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	quicpush "github.com/quicpush/quicpush/clients/go"
	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/gen/quicpush/push/v1/pushv1connect"
	"github.com/quicpush/quicpush/internal/devcert"
	"github.com/quicpush/quicpush/internal/promscrape"
	"github.com/quicpush/quicpush/wire"
)

// soakDuration is how long TestSoak loads the server: QUICPUSH_SOAK (a Go
// duration; `make soak` sets 10m), 2 minutes by default.
func soakDuration(t *testing.T) time.Duration {
	if v := os.Getenv("QUICPUSH_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("QUICPUSH_SOAK=%q: %v", v, err)
		}
		return d
	}
	return 2 * time.Minute
}

func freeAddr(t *testing.T, network string) string {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serverStats are the figures the soak compares before and after.
type serverStats struct {
	goroutines, heap, fds float64
	slowConsumers         float64
}

func scrapeStats(t *testing.T, admin string) serverStats {
	t.Helper()
	// A forced GC first, so that heap is what is live.
	if resp, err := http.Get("http://" + admin + "/debug/pprof/heap?gc=1"); err == nil {
		resp.Body.Close()
	}
	m, err := promscrape.Fetch(t.Context(), "http://"+admin+"/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return serverStats{
		goroutines:    m.Sum("go_goroutines", nil),
		heap:          m.Sum("go_memstats_heap_inuse_bytes", nil),
		fds:           m.Sum("process_open_fds", nil),
		slowConsumers: m.Sum("quicpush_edge_slow_consumers_total", nil),
	}
}

// TestSoak runs `quicpush serve` under everything at once for a while:
// resuming clients that are disconnected now and then, connection churn on
// every transport, pushes, clients that never read (cut with 3003) and bad
// clients. Afterwards the server's goroutines, live heap and open files
// return to their baseline (with a tolerance), and every resuming client
// has every acknowledged message of its room exactly once, in order.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak runs for minutes: run without -short")
	}
	d := soakDuration(t)
	dir := t.TempDir()
	quicAddr, tcpAddr, apiAddr, admin := freeAddr(t, "udp"), freeAddr(t, "tcp"), freeAddr(t, "tcp"), freeAddr(t, "tcp")
	startProc(t, "serve", "serve", "--quic-addr", quicAddr, "--tcp-addr", tcpAddr, "--api-addr", apiAddr,
		"--admin-addr", admin, "--dev-dir", filepath.Join(dir, "dev"), "--jwt-secret", string(testSecret),
		"--api-key", testAPIKey, "--handshake-timeout", "2s", "--max-queue-bytes", "65536",
		"--max-conns-per-ip=-1", "--handshakes-per-ip=-1", "--log-level", "error")
	cert, err := devcert.LoadOrCreate(filepath.Join(dir, "dev"))
	if err != nil {
		t.Fatal(err)
	}
	hash := devcert.Hash(cert)
	hc := &http.Client{Transport: h2cTransport()}
	api := pushv1connect.NewPushServiceClient(hc, "http://"+apiAddr, connect.WithInterceptors(bearer(testAPIKey)))
	srv := &testServer{quic: quicAddr, tcp: tcpAddr, api: apiAddr, cert: cert}
	eventually(t, 10*time.Second, "the server", func() bool {
		_, err := api.Online(t.Context(), connect.NewRequest(&pushv1.OnlineRequest{}))
		return err == nil
	})
	time.Sleep(time.Second)
	base := scrapeStats(t, admin)
	t.Logf("baseline: %.0f goroutines, %.1f MB heap, %.0f open files", base.goroutines, base.heap/1e6, base.fds)

	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	var wg sync.WaitGroup
	const rooms = 4

	// Resuming, well-behaved clients.
	clients := make([]*appClient, 16)
	for i := range clients {
		a := &appClient{room: "soak-" + strconv.Itoa(i%rooms), ids: make(map[string]int)}
		clients[i] = a
		ep := "tcp://" + tcpAddr
		if i%2 == 0 {
			ep = "quic://" + quicAddr + " " + ep
		}
		cl, err := quicpush.New([]string{ep}, quicpush.WithToken(token(t, "res-"+strconv.Itoa(i), "soak-*")),
			quicpush.WithCertHash(hash[:]), quicpush.WithBackoff(50*time.Millisecond, 500*time.Millisecond),
			quicpush.WithOnMessage(func(m quicpush.Message) {
				a.mu.Lock()
				a.ids[m.ID]++
				a.offsets = append(a.offsets, m.Offset)
				a.epochs = append(a.epochs, m.Epoch)
				a.mu.Unlock()
			}),
			quicpush.WithOnRecovery(func(e quicpush.RecoveryEvent) {
				a.mu.Lock()
				if e.Room != "" && !e.Recovered {
					a.lost++
				}
				a.mu.Unlock()
			}))
		if err != nil {
			t.Fatal(err)
		}
		a.cl = cl
		if err := cl.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := cl.Join(t.Context(), a.room); err != nil {
			t.Fatal(err)
		}
	}

	// Pushes, and now and then a resuming client is disconnected.
	payload := strings.Repeat(".", 1024)
	var mu sync.Mutex
	acked := map[string][]string{}
	var pushes atomic.Int64
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			room := "soak-" + strconv.Itoa(i%rooms)
			// 1 KB payloads: the readers that never read fill their socket
			// buffers and then their queue within seconds.
			rsp, err := api.PushRoom(context.Background(), connect.NewRequest(&pushv1.PushRoomRequest{Room: room, Text: strconv.Itoa(i) + payload}))
			if err != nil {
				continue
			}
			mu.Lock()
			acked[room] = append(acked[room], rsp.Msg.GetMessageId())
			mu.Unlock()
			pushes.Add(1)
			if i%500 == 250 {
				victim := clients[rand.IntN(len(clients))]
				_, _ = api.Disconnect(context.Background(), connect.NewRequest(&pushv1.DisconnectRequest{Keys: []string{victim.cl.ConnKey()}, Reconnect: true}))
			}
		}
	})

	// Churn, slow readers and bad clients, on every transport.
	var churned, slow, bad atomic.Int64
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				kind := transports[(i+w)%len(transports)]
				c, err := soakDial(srv, kind)
				if err != nil {
					continue
				}
				switch i % 10 {
				case 0: // never reads, in the busy rooms: cut as a slow consumer
					go func() {
						if soakAuth(c, token(t, "slow", "soak-*")) {
							for r := range rooms {
								_ = c.write(wire.AppendJoin(nil, uint32(r+2), &wire.Join{Room: "soak-" + strconv.Itoa(r)}))
							}
						}
						select {
						case <-ctx.Done():
						case <-time.After(20 * time.Second):
						}
						c.close()
					}()
					slow.Add(1)
					continue
				case 1: // garbage
					buf := make([]byte, 64)
					for j := range buf {
						buf[j] = byte(rand.IntN(256))
					}
					buf[0] = 0
					_ = c.write(buf)
					bad.Add(1)
				case 2: // a bad token
					_ = c.write(wire.AppendAuth(nil, 1, &wire.Auth{Version: 1, Token: "forged"}))
					bad.Add(1)
				default: // connect, join, leave, close
					if soakAuth(c, token(t, "churn", "soak-*")) {
						_ = c.write(wire.AppendJoin(nil, 2, &wire.Join{Room: "soak-0"}))
						_ = c.write(wire.AppendRoom(nil, wire.OpLeave, 3, "soak-0"))
					}
					churned.Add(1)
				}
				c.close()
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	<-ctx.Done()
	wg.Wait()
	t.Logf("load for %v: %d pushes, %d churned connections, %d slow readers, %d bad clients", d, pushes.Load(), churned.Load(), slow.Load(), bad.Load())

	// Every resuming client has every acknowledged message of its room.
	eventually(t, 60*time.Second, "every resuming client complete", func() bool {
		for _, a := range clients {
			if a.seen(acked[a.room]) != len(acked[a.room]) {
				return false
			}
		}
		return true
	})
	for i, a := range clients {
		a.check(t, i)
		a.cl.Close()
	}

	// Back to the baseline once everyone is gone.
	var last serverStats
	deadline := time.Now().Add(60 * time.Second)
	for {
		last = scrapeStats(t, admin)
		if last.goroutines <= base.goroutines+10 && last.fds <= base.fds+10 && last.heap <= base.heap+32<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not back to the baseline after 60 s: %.0f goroutines (was %.0f), %.1f MB heap (was %.1f), %.0f open files (was %.0f)",
				last.goroutines, base.goroutines, last.heap/1e6, base.heap/1e6, last.fds, base.fds)
		}
		time.Sleep(time.Second)
	}
	t.Logf("after: %.0f goroutines, %.1f MB heap, %.0f open files; %.0f slow consumers cut", last.goroutines, last.heap/1e6, last.fds, last.slowConsumers)
	if last.slowConsumers == 0 {
		t.Error("no reader that never reads was cut as a slow consumer")
	}
}

// soakDial dials a raw connection without failing the test: under churn a
// dial may fail and the worker moves on.
func soakDial(srv *testServer, kind string) (rawConn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	switch kind {
	case "tcp":
		return dialRawTCP(srv.tcp)
	case "ws":
		return dialRawWS(ctx, "ws://"+srv.tcp+"/ws")
	case "quic":
		return dialRawQUIC(ctx, srv.quic)
	case "webtransport":
		return dialRawWT(ctx, "https://"+srv.quic+"/wt")
	}
	return nil, fmt.Errorf("unknown transport %q", kind)
}

// soakAuth authenticates c, reporting whether AuthOK came.
func soakAuth(c rawConn, tok string) bool {
	if err := c.write(wire.AppendAuth(nil, 1, &wire.Auth{Version: 1, Token: tok})); err != nil {
		return false
	}
	h, _, err := c.next()
	return err == nil && h.Op == wire.OpAuthOK
}
