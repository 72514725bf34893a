package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"

	proxyv1 "github.com/quicpush/quicpush/gen/quicpush/proxy/v1"
	"github.com/quicpush/quicpush/gen/quicpush/proxy/v1/proxyv1connect"
)

// grpcBackend is the application's backend serving the ProxyService over
// h2c, as a grpc:// hook URL reaches it.
type grpcBackend struct {
	proxyv1connect.UnimplementedProxyServiceHandler
	key string // the X-Api-Key of the last call
}

func (b *grpcBackend) Connect(_ context.Context, req *connect.Request[proxyv1.ConnectRequest]) (*connect.Response[proxyv1.ConnectResponse], error) {
	b.key = req.Header().Get("X-Api-Key")
	switch req.Msg.GetToken() {
	case "sess-ann":
		if req.Msg.GetIp() != "10.0.0.1" || req.Msg.GetTransport() != "quic" {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("request fields"))
		}
		return connect.NewResponse(&proxyv1.ConnectResponse{Answer: &proxyv1.ConnectResponse_Result{Result: &proxyv1.ConnectResult{
			User: "ann", ExpireAt: 4102444800, Rooms: []string{"team:*"}, Info: []byte(`{"plan":"pro"}`)}}}), nil
	case "bad-info":
		return connect.NewResponse(&proxyv1.ConnectResponse{Answer: &proxyv1.ConnectResponse_Result{Result: &proxyv1.ConnectResult{
			User: "x", Info: []byte(`{`)}}}), nil
	case "down":
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("down"))
	}
	return connect.NewResponse(&proxyv1.ConnectResponse{Answer: &proxyv1.ConnectResponse_Disconnect{Disconnect: &proxyv1.Disconnect{Code: 3500, Reason: "unknown"}}}), nil
}

func (b *grpcBackend) Join(_ context.Context, req *connect.Request[proxyv1.JoinRequest]) (*connect.Response[proxyv1.JoinResponse], error) {
	rsp := &proxyv1.JoinResponse{}
	switch req.Msg.GetRoom() {
	case "vip:" + req.Msg.GetUser():
		rsp.Answer = &proxyv1.JoinResponse_Result{Result: &proxyv1.JoinResult{}}
	case "vip:ban":
		rsp.Answer = &proxyv1.JoinResponse_Disconnect{Disconnect: &proxyv1.Disconnect{Code: 3504, Reason: "banned"}}
	default:
		rsp.Answer = &proxyv1.JoinResponse_Error{Error: &proxyv1.JoinError{Message: "no"}}
	}
	return connect.NewResponse(rsp), nil
}

func TestGRPCHooks(t *testing.T) {
	t.Parallel()
	b := &grpcBackend{}
	mux := http.NewServeMux()
	mux.Handle(proxyv1connect.NewProxyServiceHandler(b))
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	url := "grpc://" + srv.Listener.Addr().String()
	c, _ := newClient(t, Config{Connect: HookConfig{URL: url, BreakerFailures: 100}, Join: HookConfig{URL: url},
		Header: http.Header{"X-Api-Key": {"k"}}})
	ctx := context.Background()

	r, err := c.Connect(ctx, ConnectRequest{Token: "sess-ann", IP: "10.0.0.1", Transport: "quic"})
	if err != nil || r.User != "ann" || r.Expires.Unix() != 4102444800 || len(r.Rooms) != 1 || string(r.Info) != `{"plan":"pro"}` {
		t.Fatalf("connect: %+v %v", r, err)
	}
	if b.key != "k" {
		t.Fatalf("X-Api-Key %q", b.key)
	}
	if r, err := c.Connect(ctx, ConnectRequest{Token: "other"}); err != nil || r.Disconnect.Code != 3500 {
		t.Fatalf("refusal: %+v %v", r, err)
	}
	for _, tok := range []string{"bad-info", "down"} {
		if _, err := c.Connect(ctx, ConnectRequest{Token: tok}); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("%s: %v, want ErrUnavailable", tok, err)
		}
	}
	if j, err := c.Join(ctx, JoinRequest{User: "ann", Room: "vip:ann"}); err != nil || !j.Allow {
		t.Fatalf("allow: %+v %v", j, err)
	}
	if j, err := c.Join(ctx, JoinRequest{User: "ann", Room: "vip:bob"}); err != nil || j.Allow || j.Reason != "no" {
		t.Fatalf("deny: %+v %v", j, err)
	}
	if j, err := c.Join(ctx, JoinRequest{User: "ann", Room: "vip:ban"}); err != nil || j.Disconnect.Code != 3504 {
		t.Fatalf("disconnect: %+v %v", j, err)
	}
}
