package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/internal/frameconn"
	"github.com/quicpush/quicpush/internal/netlab"
	"github.com/quicpush/quicpush/wire"
)

// reconnectCostCmd measures what a reconnect costs a client through a lab
// path: the time from the dial to the first push it missed, with a full
// handshake and with a resumed TLS session (0-RTT on QUIC), on raw QUIC and
// on TLS over TCP.
type reconnectCostCmd struct {
	N         int           `default:"20" help:"Reconnects measured per kind."`
	RTT       time.Duration `default:"100ms" help:"Round-trip time of the lab path, half of it each way."`
	ServerBin string        `name:"server-bin" help:"quicpush binary to spawn (default: quicpush next to loadgen, then $$PATH)."`
}

// reconnectKind is one way of reconnecting.
type reconnectKind struct {
	name    string
	quic    bool
	resumed bool // with the ticket of the previous connection
}

var reconnectKinds = []reconnectKind{
	{"quic full handshake", true, false},
	{"quic 0-RTT", true, true},
	{"tls full handshake", false, false},
	{"tls resumed", false, true},
}

func (c *reconnectCostCmd) Run() error {
	if c.N < 1 || c.RTT <= 0 {
		return errors.New("reconnect-cost: need --n >= 1 and --rtt > 0")
	}
	bin, err := serverBinary(config{serverBin: c.ServerBin})
	if err != nil {
		return fmt.Errorf("no quicpush binary: %w", err)
	}
	tgt, err := spawn(bin, "", nil)
	if err != nil {
		return err
	}
	defer tgt.stop()
	path := netlab.Path{Up: netlab.Link{Delay: c.RTT / 2}, Down: netlab.Link{Delay: c.RTT / 2}}
	udp, err := netlab.NewUDPRelay(netlab.UDPConfig{Target: tgt.quic[0], Path: path})
	if err != nil {
		return err
	}
	defer udp.Close()
	tcp, err := netlab.NewTCPRelay(netlab.TCPConfig{Target: tgt.tcp[0], Path: path})
	if err != nil {
		return err
	}
	defer tcp.Close()

	ctx := context.Background()
	const room = "reconnect-cost"
	from, err := missOne(ctx, tgt, room)
	if err != nil {
		return err
	}
	tok, err := auth.IssueHS256(tgt.jwtSecret, "reconnect-cost", []string{room}, time.Hour)
	if err != nil {
		return err
	}
	cache := tls.NewLRUClientSessionCache(0)
	times := make([][]time.Duration, len(reconnectKinds))
	// Kinds in turn, so that each resumed dial has the ticket of the dial
	// just before it, as a reconnect would.
	for range c.N {
		for k, kind := range reconnectKinds {
			o := frameconn.Options{TLS: clientTLS(), QUICConfig: clientQUICConfig(), Early: true}
			o.TLS.ClientSessionCache = cache
			if !kind.resumed {
				o.TLS.ClientSessionCache = storeOnly{cache}
			}
			addr := tcp.Addr().String()
			if kind.quic {
				addr = udp.Addr().String()
			}
			d, err := timeToMissedPush(ctx, kind, addr, o, tok, from)
			if err != nil {
				return fmt.Errorf("%s: %w", kind.name, err)
			}
			times[k] = append(times[k], d)
		}
	}
	fmt.Printf("dial to first missed push through the lab, %v RTT, n=%d each\n", c.RTT, c.N)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "kind\tmedian\tp90\tmedian RTTs\tp90 RTTs\t")
	for k, kind := range reconnectKinds {
		ds := times[k]
		slices.Sort(ds)
		med, p90 := ds[len(ds)/2], ds[min(len(ds)-1, len(ds)*9/10)]
		fmt.Fprintf(w, "%s\t%v\t%v\t%.2f\t%.2f\t\n", kind.name, med.Round(time.Millisecond), p90.Round(time.Millisecond),
			float64(med)/float64(c.RTT), float64(p90)/float64(c.RTT))
	}
	return w.Flush()
}

// missOne pushes two messages to room and returns the position of the first:
// a client rejoining from it has missed the second.
func missOne(ctx context.Context, tgt *target, room string) (wire.Join, error) {
	p := newPusher(tgt.api, tgt.apiKey, room, 0)
	var first *pushv1.StreamPosition
	for range 2 {
		req := connect.NewRequest(&pushv1.PushRoomRequest{Room: room, Text: `{"missed":true}`})
		req.Header().Set("Authorization", "Bearer "+tgt.apiKey)
		rsp, err := p.client.PushRoom(ctx, req)
		if err != nil {
			return wire.Join{}, err
		}
		if first == nil {
			first = rsp.Msg.GetPosition()
		}
	}
	return wire.Join{Room: room, Offset: first.GetOffset(), Epoch: first.GetEpoch()}, nil
}

// timeToMissedPush dials addr, sends Auth and a Join of the room at from in
// one write (the way a reconnecting client does), and returns the time from
// the dial to the first push, which must be the one after from.
func timeToMissedPush(ctx context.Context, kind reconnectKind, addr string, o frameconn.Options, tok string, from wire.Join) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	var c *frameconn.Conn
	var err error
	if kind.quic {
		c, err = frameconn.DialQUIC(ctx, addr, o)
	} else {
		c, err = frameconn.DialTLS(ctx, addr, o)
	}
	if err != nil {
		return 0, err
	}
	defer c.Close(0, "")
	hello := wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: tok})
	hello = wire.AppendJoin(hello, 2, &from)
	if err := c.WriteFrame(hello); err != nil {
		return 0, err
	}
	for {
		h, body, err := c.ReadFrame()
		if err != nil {
			return 0, err
		}
		if h.Op != wire.OpPush {
			continue
		}
		d := time.Since(start)
		var p wire.Push
		if err := p.Decode(body); err != nil {
			return 0, err
		}
		if p.Offset != from.Offset+1 {
			return 0, fmt.Errorf("first push at %d, want %d", p.Offset, from.Offset+1)
		}
		st, _ := c.TLS()
		if st.DidResume != kind.resumed || (kind.quic && c.Used0RTT() != kind.resumed) {
			return 0, fmt.Errorf("resumed %v, 0-RTT %v: not what was measured", st.DidResume, c.Used0RTT())
		}
		return d, nil
	}
}

// storeOnly is a session cache that keeps the tickets it is given but offers
// none: a full handshake that leaves a ticket for the next dial.
type storeOnly struct{ tls.ClientSessionCache }

func (storeOnly) Get(string) (*tls.ClientSessionState, bool) { return nil, false }
