package pushapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/encoding/protowire"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/gen/quicpush/push/v1/pushv1connect"
	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/wire"
)

const (
	testKey      = "test-key-1"
	otherTestKey = "test-key-2"
)

// testNow is the fixed clock of test servers.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fakePublisher records published messages. fn, when set, decides the result
// instead; it is set before the server starts.
type fakePublisher struct {
	fn func(ctx context.Context, m *push.Message) error

	mu   sync.Mutex
	msgs []*push.Message
}

func (p *fakePublisher) Publish(ctx context.Context, m *push.Message) ([]push.BusRecord, error) {
	if p.fn != nil {
		if err := p.fn(ctx, m); err != nil {
			return nil, err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, m)
	return []push.BusRecord{{Partition: 0, Offset: int64(len(p.msgs) - 1)}}, nil
}

func (p *fakePublisher) published() []*push.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.msgs)
}

// fakeOnline answers Online with a fixed snapshot and records the query.
type fakeOnline struct {
	online push.Online
	err    error

	mu    sync.Mutex
	rooms []string
	top   int
}

func (p *fakeOnline) Online(ctx context.Context, rooms []string, top int) (push.Online, error) {
	p.mu.Lock()
	p.rooms, p.top = rooms, top
	p.mu.Unlock()
	if p.err != nil {
		return push.Online{}, p.err
	}
	return p.online, nil
}

// testServer is a Service served over HTTP/1.1 and h2c on a loopback port.
type testServer struct {
	svc    *Service
	url    string
	pub    *fakePublisher
	online *fakeOnline
	http1  *http.Client // HTTP/1.1: Connect and gRPC-Web
	h2c    *http.Client // HTTP/2 without TLS: gRPC and streams
}

// runServer starts a Service on 127.0.0.1 port 0. cfg's Publisher and
// Online default to fakes, APIKeys to testKey and otherTestKey, Now to
// testNow; modify, when set, adjusts the fakes before the server starts.
func runServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	ts := &testServer{pub: &fakePublisher{}, online: &fakeOnline{}}
	if cfg.Publisher == nil {
		cfg.Publisher = ts.pub
	}
	if cfg.Online == nil {
		cfg.Online = ts.online
	}
	if cfg.APIKeys == nil && !cfg.Insecure {
		cfg.APIKeys = []string{testKey, otherTestKey}
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts.svc = svc

	srv := httptest.NewUnstartedServer(svc.Handler())
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	ts.url = srv.URL

	h1 := &http.Transport{}
	h2 := &http.Transport{Protocols: new(http.Protocols)}
	h2.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(h1.CloseIdleConnections)
	t.Cleanup(h2.CloseIdleConnections)
	ts.http1 = &http.Client{Transport: h1}
	ts.h2c = &http.Client{Transport: h2}
	return ts
}

// protocol is a way for a generated client to reach the server.
type protocol struct {
	name string
	h2c  bool
	opts []connect.ClientOption
}

var protocols = []protocol{
	{name: "connect"},
	{name: "connect_json", opts: []connect.ClientOption{connect.WithProtoJSON()}},
	{name: "connect_h2c", h2c: true},
	{name: "grpc", h2c: true, opts: []connect.ClientOption{connect.WithGRPC()}},
	{name: "grpc_web", opts: []connect.ClientOption{connect.WithGRPCWeb()}},
}

// client returns a PushService client that sends authorization as the
// Authorization header (none when empty).
func (ts *testServer) client(p protocol, authorization string) pushv1connect.PushServiceClient {
	hc := ts.http1
	if p.h2c {
		hc = ts.h2c
	}
	opts := append(slices.Clone(p.opts), connect.WithInterceptors(connect.UnaryInterceptorFunc(
		func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				if authorization != "" {
					req.Header().Set("Authorization", authorization)
				}
				return next(ctx, req)
			}
		})))
	return pushv1connect.NewPushServiceClient(hc, ts.url, opts...)
}

// call is one PushService call and the message it must publish (nil for
// Online, which publishes nothing).
type call struct {
	name string
	do   func(context.Context, pushv1connect.PushServiceClient) (id string, err error)
	want *push.Message
}

var pushCalls = []call{
	{
		name: "PushKeys",
		do: func(ctx context.Context, c pushv1connect.PushServiceClient) (string, error) {
			return msgID(c.PushKeys(ctx, connect.NewRequest(&pushv1.PushKeysRequest{Keys: []string{"k1", "k2"}, Data: []byte{0, 1, 2}})))
		},
		want: &push.Message{Kind: push.KindKeys, Keys: []string{"k1", "k2"}, Data: []byte{0, 1, 2}},
	},
	{
		name: "PushUsers",
		do: func(ctx context.Context, c pushv1connect.PushServiceClient) (string, error) {
			return msgID(c.PushUsers(ctx, connect.NewRequest(&pushv1.PushUsersRequest{Users: []string{"alice"}, Text: "hi"})))
		},
		want: &push.Message{Kind: push.KindUsers, Users: []string{"alice"}, Data: []byte("hi")},
	},
	{
		name: "PushRoom",
		do: func(ctx context.Context, c pushv1connect.PushServiceClient) (string, error) {
			return msgID(c.PushRoom(ctx, connect.NewRequest(&pushv1.PushRoomRequest{Room: "lobby", Text: `{"test":1}`})))
		},
		want: &push.Message{Kind: push.KindRoom, Room: "lobby", Data: []byte(`{"test":1}`)},
	},
	{
		name: "Broadcast",
		do: func(ctx context.Context, c pushv1connect.PushServiceClient) (string, error) {
			return msgID(c.Broadcast(ctx, connect.NewRequest(&pushv1.BroadcastRequest{Data: []byte("all"), Rate: 500})))
		},
		want: &push.Message{Kind: push.KindBroadcast, Data: []byte("all"), Rate: 500},
	},
	{
		name: "Disconnect",
		do: func(ctx context.Context, c pushv1connect.PushServiceClient) (string, error) {
			return msgID(c.Disconnect(ctx, connect.NewRequest(&pushv1.DisconnectRequest{
				Keys: []string{"k1"}, Users: []string{"bob"}, Reason: "banned",
			})))
		},
		want: &push.Message{Kind: push.KindDisconnect, Keys: []string{"k1"}, Users: []string{"bob"},
			Code: uint16(wire.CodeKicked), Reason: "banned"},
	},
	{
		name: "DisconnectReconnect",
		do: func(ctx context.Context, c pushv1connect.PushServiceClient) (string, error) {
			return msgID(c.Disconnect(ctx, connect.NewRequest(&pushv1.DisconnectRequest{Users: []string{"bob"}, Reconnect: true})))
		},
		want: &push.Message{Kind: push.KindDisconnect, Users: []string{"bob"}, Code: uint16(wire.CodeServerDisconnect)},
	},
}

func TestProtocols(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		for _, c := range pushCalls {
			t.Run(p.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				ts := runServer(t, Config{})
				id, err := c.do(t.Context(), ts.client(p, "Bearer "+testKey))
				if err != nil {
					t.Fatalf("call: %v", err)
				}
				got := ts.pub.published()
				if len(got) != 1 {
					t.Fatalf("published %d messages, want 1", len(got))
				}
				m := got[0]
				if m.ID != id {
					t.Errorf("message id %q, response id %q", m.ID, id)
				}
				checkID(t, id)
				if !m.Accepted.Equal(testNow) {
					t.Errorf("Accepted = %v, want %v", m.Accepted, testNow)
				}
				want := *c.want
				want.ID, want.Accepted = m.ID, m.Accepted
				if !reflect.DeepEqual(*m, want) {
					t.Errorf("published %+v, want %+v", *m, want)
				}
			})
		}
		t.Run(p.name+"/Online", func(t *testing.T) {
			t.Parallel()
			ts := runServer(t, Config{})
			ts.online.online = push.Online{
				Total: 42,
				Rooms: map[string]int64{"a": 3},
				Top:   []push.RoomCount{{Room: "big", Count: 30}, {Room: "a", Count: 3}},
			}
			r, err := ts.client(p, "Bearer "+testKey).Online(t.Context(),
				connect.NewRequest(&pushv1.OnlineRequest{Rooms: []string{"a", "empty"}, Top: 5}))
			if err != nil {
				t.Fatalf("Online: %v", err)
			}
			checkOnline(t, r.Msg, 42, map[string]int64{"a": 3, "empty": 0}, []push.RoomCount{{Room: "big", Count: 30}, {Room: "a", Count: 3}})
			if len(ts.pub.published()) != 0 {
				t.Error("Online published a message")
			}
		})
	}
}

func checkOnline(t *testing.T, got *pushv1.OnlineResponse, total int64, rooms map[string]int64, top []push.RoomCount) {
	t.Helper()
	if got.GetTotal() != total {
		t.Errorf("total = %d, want %d", got.GetTotal(), total)
	}
	if !reflect.DeepEqual(got.GetRooms(), rooms) {
		t.Errorf("rooms = %v, want %v", got.GetRooms(), rooms)
	}
	var gotTop []push.RoomCount
	for _, rc := range got.GetTop() {
		gotTop = append(gotTop, push.RoomCount{Room: rc.GetRoom(), Count: rc.GetCount()})
	}
	if !reflect.DeepEqual(gotTop, top) {
		t.Errorf("top = %v, want %v", gotTop, top)
	}
}

// TestOnlineHTTPGet checks that Online, free of side effects, is served to
// Connect GET requests, which caches and browsers can use.
func TestOnlineHTTPGet(t *testing.T) {
	t.Parallel()
	ts := runServer(t, Config{})
	ts.online.online = push.Online{Total: 7}
	c := ts.client(protocol{opts: []connect.ClientOption{connect.WithHTTPGet()}}, "Bearer "+testKey)
	req := connect.NewRequest(&pushv1.OnlineRequest{})
	r, err := c.Online(t.Context(), req)
	if err != nil {
		t.Fatalf("Online: %v", err)
	}
	if req.HTTPMethod() != http.MethodGet {
		t.Errorf("request sent with %s, want GET", req.HTTPMethod())
	}
	checkOnline(t, r.Msg, 7, nil, nil)
}

// postJSON posts body to a PushService method the way curl does.
func postJSON(t *testing.T, ts *testServer, method, authorization, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
		ts.url+"/"+pushv1connect.PushServiceName+"/"+method, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := ts.http1.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decoding response (status %d): %v", resp.StatusCode, err)
	}
	return resp.StatusCode, resp.Header, out
}

func TestPlainJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, body string
		want               *push.Message
	}{
		{
			name: "text", method: "PushRoom", body: `{"room":"lobby","text":"{\"test\":1}"}`,
			want: &push.Message{Kind: push.KindRoom, Room: "lobby", Data: []byte(`{"test":1}`)},
		},
		{
			name: "base64 data", method: "PushKeys", body: `{"keys":["k1"],"data":"AAEC"}`,
			want: &push.Message{Kind: push.KindKeys, Keys: []string{"k1"}, Data: []byte{0, 1, 2}},
		},
		{
			name: "JSON object data", method: "PushRoom", body: `{"room":"lobby","data": {"score": [1, 2],  "t": "x"} }`,
			want: &push.Message{Kind: push.KindRoom, Room: "lobby", Data: []byte(`{"score":[1,2],"t":"x"}`)},
		},
		{
			name: "JSON array data", method: "PushUsers", body: `{"data":[true,null],"users":["u"]}`,
			want: &push.Message{Kind: push.KindUsers, Users: []string{"u"}, Data: []byte(`[true,null]`)},
		},
		{
			name: "JSON number data", method: "Broadcast", body: `{"data":42}`,
			want: &push.Message{Kind: push.KindBroadcast, Data: []byte(`42`)},
		},
		{
			name: "b64data", method: "PushKeys", body: `{"keys":["k1"],"b64data":"AAEC"}`,
			want: &push.Message{Kind: push.KindKeys, Keys: []string{"k1"}, Data: []byte{0, 1, 2}},
		},
		{
			name: "b64data with null data", method: "PushRoom", body: `{"room":"r","data":null,"b64data":"eA=="}`,
			want: &push.Message{Kind: push.KindRoom, Room: "r", Data: []byte("x")},
		},
		{
			name: "broadcast with rate", method: "Broadcast", body: `{"text":"x","rate":100}`,
			want: &push.Message{Kind: push.KindBroadcast, Data: []byte("x"), Rate: 100},
		},
		{
			name: "disconnect", method: "Disconnect", body: `{"users":["u"],"reconnect":true,"reason":"moved"}`,
			want: &push.Message{Kind: push.KindDisconnect, Users: []string{"u"},
				Code: uint16(wire.CodeServerDisconnect), Reason: "moved"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := runServer(t, Config{})
			status, _, out := postJSON(t, ts, tt.method, "Bearer "+testKey, tt.body)
			if status != http.StatusOK {
				t.Fatalf("status %d, body %v", status, out)
			}
			got := ts.pub.published()
			if len(got) != 1 {
				t.Fatalf("published %d messages, want 1", len(got))
			}
			if out["messageId"] != got[0].ID {
				t.Errorf("response %v, published id %q", out, got[0].ID)
			}
			want := *tt.want
			want.ID, want.Accepted = got[0].ID, got[0].Accepted
			if !reflect.DeepEqual(*got[0], want) {
				t.Errorf("published %+v, want %+v", *got[0], want)
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		ts := runServer(t, Config{})
		errTests := []struct {
			authorization, body string
			status              int
			code                string
		}{
			{"", `{"room":"lobby","text":"x"}`, http.StatusUnauthorized, "unauthenticated"},
			{"Bearer nope", `{"room":"lobby","text":"x"}`, http.StatusUnauthorized, "unauthenticated"},
			{"Bearer " + testKey, `{"room":"lobby"}`, http.StatusBadRequest, "invalid_argument"},
			{"Bearer " + testKey, `{"room":"lobby","text":"x","data":"eA=="}`, http.StatusBadRequest, "invalid_argument"},
			{"Bearer " + testKey, `{"room":`, http.StatusBadRequest, "invalid_argument"},
			{"Bearer " + testKey, `{"room":"lobby","data":{"a":1},"text":"x"}`, http.StatusBadRequest, "invalid_argument"},
			{"Bearer " + testKey, `{"room":"lobby","data":{"a":1},"b64data":"eA=="}`, http.StatusBadRequest, "invalid_argument"},
			{"Bearer " + testKey, `{"room":"lobby","b64data":{"a":1}}`, http.StatusBadRequest, "invalid_argument"},
			{"Bearer " + testKey, `{"room":"lobby","b64data":"not base64!"}`, http.StatusBadRequest, "invalid_argument"},
			{"Bearer " + testKey, `{"room":"lobby","data":null}`, http.StatusBadRequest, "invalid_argument"},
		}
		for _, tt := range errTests {
			status, header, out := postJSON(t, ts, "PushRoom", tt.authorization, tt.body)
			if status != tt.status || out["code"] != tt.code {
				t.Errorf("auth %q body %s: status %d %v, want %d %s", tt.authorization, tt.body, status, out, tt.status, tt.code)
			}
			if status == http.StatusUnauthorized && !strings.HasPrefix(header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 with WWW-Authenticate %q, want the Bearer scheme", header.Get("WWW-Authenticate"))
			}
		}
		if n := len(ts.pub.published()); n != 0 {
			t.Errorf("published %d messages, want 0", n)
		}
	})
}

func TestAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		authorization string
		ok            bool
	}{
		{"missing", "", false},
		{"wrong key", "Bearer wrong", false},
		{"key prefix", "Bearer " + testKey[:len(testKey)-1], false},
		{"key with suffix", "Bearer " + testKey + "x", false},
		{"no scheme", testKey, false},
		{"basic scheme", "Basic " + testKey, false},
		{"empty bearer", "Bearer ", false},
		{"first key", "Bearer " + testKey, true},
		{"second key", "Bearer " + otherTestKey, true},
		{"lower-case scheme", "bearer " + testKey, true},
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			ts := runServer(t, Config{})
			wantPublished := 0
			for _, tt := range tests {
				c := ts.client(p, tt.authorization)
				_, err := c.PushRoom(t.Context(), connect.NewRequest(&pushv1.PushRoomRequest{Room: "r", Text: "x"}))
				_, onlineErr := c.Online(t.Context(), connect.NewRequest(&pushv1.OnlineRequest{}))
				if tt.ok {
					wantPublished++
					if err != nil || onlineErr != nil {
						t.Errorf("%s: PushRoom: %v, Online: %v", tt.name, err, onlineErr)
					}
					continue
				}
				for _, err := range []error{err, onlineErr} {
					if connect.CodeOf(err) != connect.CodeUnauthenticated {
						t.Errorf("%s: got %v, want unauthenticated", tt.name, err)
					}
				}
			}
			if n := len(ts.pub.published()); n != wantPublished {
				t.Errorf("published %d messages, want %d", n, wantPublished)
			}
		})
	}
}

func TestInsecure(t *testing.T) {
	t.Parallel()
	ts := runServer(t, Config{Insecure: true})
	_, err := ts.client(protocols[0], "").PushRoom(t.Context(),
		connect.NewRequest(&pushv1.PushRoomRequest{Room: "r", Text: "x"}))
	if err != nil {
		t.Fatalf("PushRoom without key on an insecure server: %v", err)
	}
}

// TestRequestTooLarge checks that an oversized request is refused before it
// is decoded.
func TestRequestTooLarge(t *testing.T) {
	t.Parallel()
	ts := runServer(t, Config{MaxDataBytes: 1000, MaxTargets: 10})
	_, err := ts.client(protocols[0], "Bearer "+testKey).PushRoom(t.Context(),
		connect.NewRequest(&pushv1.PushRoomRequest{Room: "r", Data: make([]byte, 1<<20)}))
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Errorf("got %v, want resource_exhausted", err)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	ts := runServer(t, Config{})
	for _, p := range protocols {
		hc := ts.http1
		if p.h2c {
			hc = ts.h2c
		}
		// No API key: load balancers and orchestrators probe without one.
		c := grpchealth.NewClient(hc, ts.url, p.opts...)
		for _, svc := range []string{"", pushv1connect.PushServiceName} {
			r, err := c.Check(t.Context(), &grpchealth.CheckRequest{Service: svc})
			if err != nil {
				t.Errorf("%s: Check(%q): %v", p.name, svc, err)
				continue
			}
			if r.Status != grpchealth.StatusServing {
				t.Errorf("%s: Check(%q) = %v, want serving", p.name, svc, r.Status)
			}
		}
		_, err := c.Check(t.Context(), &grpchealth.CheckRequest{Service: "unknown.Service"})
		if connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("%s: Check(unknown) = %v, want not_found", p.name, err)
		}
	}
}

func TestReflection(t *testing.T) {
	t.Parallel()
	ts := runServer(t, Config{})

	t.Run("v1", func(t *testing.T) {
		t.Parallel()
		stream := grpcreflect.NewClient(ts.h2c, ts.url, connect.WithGRPC()).NewStream(t.Context())
		defer stream.Close()
		names, err := stream.ListServices()
		if err != nil {
			t.Fatalf("ListServices: %v", err)
		}
		if !slices.Contains(names, pushv1connect.PushServiceName) {
			t.Errorf("services %v lack %s", names, pushv1connect.PushServiceName)
		}
		files, err := stream.FileContainingSymbol(pushv1connect.PushServiceName)
		if err != nil {
			t.Fatalf("FileContainingSymbol: %v", err)
		}
		if len(files) == 0 || files[0].GetName() != "quicpush/push/v1/push.proto" {
			t.Errorf("FileContainingSymbol returned %v", files)
		}
	})

	// v1alpha, which older tools still use, has the same messages as v1: one
	// hand-encoded ServerReflectionRequest{list_services: ""} over gRPC.
	t.Run("v1alpha", func(t *testing.T) {
		t.Parallel()
		msg := protowire.AppendTag(nil, 7, protowire.BytesType) // list_services
		msg = protowire.AppendString(msg, "")
		body := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg)))
		body = append(body, msg...)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
			ts.url+"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("Te", "trailers")
		resp, err := ts.h2c.Do(req)
		if err != nil {
			t.Fatalf("POST: %v", err)
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading response: %v", err)
		}
		if s := resp.Trailer.Get("Grpc-Status"); s != "0" {
			t.Fatalf("grpc-status %q (%s)", s, resp.Trailer.Get("Grpc-Message"))
		}
		if !bytes.Contains(out, []byte(pushv1connect.PushServiceName)) {
			t.Errorf("response %q lacks %s", out, pushv1connect.PushServiceName)
		}
	})
}

// TestNotFound checks that the mux serves nothing else.
func TestNotFound(t *testing.T) {
	t.Parallel()
	ts := runServer(t, Config{})
	resp, err := ts.http1.Post(ts.url+"/quicpush.edge.v1.EdgeService/Stats", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status %d, want 404", resp.StatusCode)
	}
}

// msgID returns the message id of a push response, and fails unless the
// response carries the one bus record fakePublisher reported.
func msgID[T any, PT interface {
	*T
	GetMessageId() string
	GetBusRecords() []*pushv1.BusRecord
}](r *connect.Response[T], err error) (string, error) {
	if err != nil {
		return "", err
	}
	if recs := PT(r.Msg).GetBusRecords(); len(recs) != 1 || recs[0].GetPartition() != 0 || recs[0].GetOffset() < 0 {
		return "", fmt.Errorf("bus records %v, want the publisher's one record", recs)
	}
	return PT(r.Msg).GetMessageId(), nil
}

// TestHTTPErrorBodies checks that the answers a curl user gets at the HTTP
// level, before any RPC runs, carry a JSON body saying what to do instead of
// an empty one.
func TestHTTPErrorBodies(t *testing.T) {
	t.Parallel()
	ts := runServer(t, Config{})
	url := ts.url + "/" + pushv1connect.PushServiceName + "/PushRoom"
	tests := []struct {
		name, method, contentType, authorization string
		status                                   int
		code, hint                               string
	}{
		{"GET", http.MethodGet, "", "Bearer " + testKey, http.StatusMethodNotAllowed, "unimplemented", "POST"},
		{"PUT", http.MethodPut, "application/json", "Bearer " + testKey, http.StatusMethodNotAllowed, "unimplemented", "POST"},
		{"text", http.MethodPost, "text/plain", "Bearer " + testKey, http.StatusUnsupportedMediaType, "invalid_argument", "Content-Type: application/json"},
		{"no type", http.MethodPost, "", "Bearer " + testKey, http.StatusUnsupportedMediaType, "invalid_argument", "Content-Type: application/json"},
		{"no key", http.MethodPost, "application/json", "", http.StatusUnauthorized, "unauthenticated", "Authorization: Bearer <key>"},
		{"basic", http.MethodPost, "application/json", "Basic eDp5", http.StatusUnauthorized, "unauthenticated", "Authorization: Bearer <key>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, url, strings.NewReader(`{"room":"lobby","text":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.authorization != "" {
				req.Header.Set("Authorization", tt.authorization)
			}
			resp, err := ts.http1.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tt.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json (body %q)", ct, body)
			}
			var out struct{ Code, Message string }
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if out.Code != tt.code || !strings.Contains(out.Message, tt.hint) {
				t.Errorf("body %q, want code %s and a message with %q", body, tt.code, tt.hint)
			}
		})
	}
	if n := len(ts.pub.published()); n != 0 {
		t.Errorf("published %d messages, want 0", n)
	}
}
