package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"

	quicpush "github.com/quicpush/quicpush/clients/go"
	"github.com/quicpush/quicpush/core"
	"github.com/quicpush/quicpush/edge"
	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/gen/quicpush/push/v1/pushv1connect"
	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/internal/devcert"
	"github.com/quicpush/quicpush/server"
	"github.com/quicpush/quicpush/wire"
)

var (
	testSecret = []byte(strings.Repeat("k", 32))
	testAPIKey = "test-api-key"
)

// testServer is a real single-process quicpush on loopback port 0.
type testServer struct {
	*server.Single
	quic, tcp, api string
	cert           tls.Certificate
}

func startServer(t *testing.T, tune func(*server.SingleConfig)) *testServer {
	t.Helper()
	cert, err := devcert.Generate(devcert.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.SingleConfig{
		APIAddr: "127.0.0.1:0",
		Edge: edge.Config{
			QUICAddr:         "127.0.0.1:0",
			TCPAddr:          "127.0.0.1:0",
			HandshakeTimeout: 2 * time.Second,
			CloseTimeout:     time.Second,
			// Every test client comes from 127.0.0.1: the per-IP limits
			// have tests of their own.
			MaxConnsPerIP:   -1,
			HandshakesPerIP: -1,
		},
		Core:        core.Config{MergeWindow: time.Millisecond},
		Certificate: cert,
		Auth:        auth.VerifierConfig{HMACSecret: testSecret},
		APIKeys:     []string{testAPIKey},
	}
	if tune != nil {
		tune(&cfg)
	}

	srv, err := server.StartSingle(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &testServer{
		Single: srv,
		quic:   srv.Edge.QUICAddr().String(),
		tcp:    srv.Edge.TCPAddr().String(),
		api:    srv.APIAddr().String(),
		cert:   cert,
	}
}

func token(t *testing.T, user string, rooms ...string) string {
	t.Helper()
	tok, err := auth.IssueHS256(testSecret, user, rooms, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// apiClient is a Connect-protocol client with the test API key; opts pick
// gRPC or gRPC-Web.
func (s *testServer) apiClient(opts ...connect.ClientOption) pushv1connect.PushServiceClient {
	hc := &http.Client{Transport: h2cTransport()}
	opts = append(opts, connect.WithInterceptors(bearer(testAPIKey)))
	return pushv1connect.NewPushServiceClient(hc, "http://"+s.api, opts...)
}

func h2cTransport() *http.Transport {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Transport{Protocols: p}
}

type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}
func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}
func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

func pushRoom(t *testing.T, c pushv1connect.PushServiceClient, room, text string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rsp, err := c.PushRoom(ctx, connect.NewRequest(&pushv1.PushRoomRequest{Room: room, Text: text}))
	if err != nil {
		t.Fatalf("PushRoom: %v", err)
	}
	return rsp.Msg.MessageId
}

// postJSON calls a push API method as curl does, JSON over HTTP/1.1 with
// the test's API key, and returns the status and the body.
func postJSON(t *testing.T, api, method, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+api+"/quicpush.push.v1.PushService/"+method,
		strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	req.Header.Set("Content-Type", "application/json")
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer rsp.Body.Close()
	out, err := io.ReadAll(rsp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rsp.StatusCode, out
}

// authenticate sends Auth and returns the AuthOK.
func authenticate(t *testing.T, c rawConn, tok string) wire.AuthOK {
	t.Helper()
	return authWith(t, c, wire.Auth{Token: tok})
}

// authWith sends a (of this protocol version, with seq 1), then joins in
// the same write with seqs from 2 (Auth announcing them when a.Joins is
// left zero), and returns the AuthOK.
func authWith(t *testing.T, c rawConn, a wire.Auth, joins ...wire.Join) wire.AuthOK {
	t.Helper()
	a.Version = wire.Version
	if a.Joins == 0 {
		a.Joins = uint64(len(joins))
	}
	b := wire.AppendAuth(nil, 1, &a)
	for i := range joins {
		b = wire.AppendJoin(b, uint32(2+i), &joins[i])
	}
	if err := c.write(b); err != nil {
		t.Fatal(err)
	}
	h, body := expectFrame(t, c, wire.OpAuthOK)
	if h.Seq != 1 {
		t.Fatalf("auth_ok seq %d", h.Seq)
	}
	var ok wire.AuthOK
	if err := ok.Decode(body); err != nil {
		t.Fatal(err)
	}
	return ok
}

func join(t *testing.T, c rawConn, seq uint32, room string) {
	t.Helper()
	if err := c.write(wire.AppendJoin(nil, seq, &wire.Join{Room: room})); err != nil {
		t.Fatal(err)
	}
	h, body := expectFrame(t, c, wire.OpJoinOK)
	var r wire.RoomReply
	if err := r.Decode(body); err != nil || r.Room != room || h.Seq != seq {
		t.Fatalf("join_ok %+v seq %d err %v", r, h.Seq, err)
	}
}

func expectFrame(t *testing.T, c rawConn, op wire.Op) (wire.Header, []byte) {
	t.Helper()
	h, body, err := c.next()
	if err != nil {
		t.Fatalf("waiting for %v: %v", op, err)
	}
	if h.Op != op {
		t.Fatalf("got %v (%q), want %v", h.Op, body, op)
	}
	return h, body
}

func expectPush(t *testing.T, c rawConn) wire.Push {
	t.Helper()
	_, body := expectFrame(t, c, wire.OpPush)
	var p wire.Push
	if err := p.Decode(body); err != nil {
		t.Fatal(err)
	}
	p.Data = append([]byte(nil), p.Data...)
	return p
}

// transportCode is the disconnect code a QUIC connection, a WebTransport
// session or a WebSocket carried in its close, if it ended with one. A
// client that had not read the Disconnect frame yet when the close came
// gets the same code this way (docs/protocol.md, section 6.5).
func transportCode(c rawConn, err error) (wire.Code, bool) {
	var se *webtransport.SessionError
	var ae *quic.ApplicationError
	switch {
	case errors.As(err, &se) && se.Remote:
		return wire.Code(se.ErrorCode), true
	case errors.As(err, &ae) && ae.Remote:
		return wire.Code(ae.ErrorCode), true
	}
	if ws, ok := c.(*wsRaw); ok && ws.closed != nil {
		return wire.Code(*ws.closed), true
	}
	return 0, false
}

// expectDisconnect reads until the server's Disconnect frame and checks its
// code, then checks the connection ends. A close of the transport with the
// same code counts as the frame.
func expectDisconnect(t *testing.T, c rawConn, code wire.Code) {
	t.Helper()
	for {
		h, body, err := c.next()
		if err != nil {
			if got, ok := transportCode(c, err); ok && got == code {
				return
			}
			t.Fatalf("connection ended without disconnect %d: %v", code, err)
		}
		if h.Op != wire.OpDisconnect {
			continue
		}
		var d wire.Disconnect
		if err := d.Decode(body); err != nil {
			t.Fatal(err)
		}
		if d.Code != code {
			t.Fatalf("disconnect code %d (%s), want %d", d.Code, d.Reason, code)
		}
		break
	}
	if _, _, err := c.next(); err == nil {
		t.Fatal("frames after disconnect")
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// metricValue reads a counter or gauge (summed over labels) from the
// server's registry, as /metrics would show it.
func metricValue(t *testing.T, s *testServer, name string) float64 {
	t.Helper()
	return labelledValue(t, s, name, nil)
}

// labelledValue is metricValue summed over the series whose labels include
// every pair of want.
func labelledValue(t *testing.T, s *testServer, name string, want map[string]string) float64 {
	t.Helper()
	families, err := s.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			matched := 0
			for _, l := range m.GetLabel() {
				if v, ok := want[l.GetName()]; ok {
					if v != l.GetValue() {
						continue series
					}
					matched++
				}
			}
			if matched == len(want) {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func asError(err error, target **quicpush.Error) bool { return errors.As(err, target) }
