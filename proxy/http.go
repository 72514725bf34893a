package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"connectrpc.com/connect"

	proxyv1 "github.com/quicpush/quicpush/gen/quicpush/proxy/v1"
	"github.com/quicpush/quicpush/gen/quicpush/proxy/v1/proxyv1connect"
)

// hook is one hook with its limits: the timeout, the bound on calls in
// flight (a buffered channel used as a semaphore, tried without waiting) and
// the breaker. Its backend speaks HTTP JSON (an http or https URL) or gRPC
// (grpc://, h2c, or grpcs://), then rpc is set.
type hook struct {
	name    string
	url     string
	rpc     proxyv1connect.ProxyServiceClient
	timeout time.Duration
	slots   chan struct{}
	brk     *breaker
	c       *Client
}

func newHook(name string, hc HookConfig, c *Client) (*hook, error) {
	if hc.URL == "" {
		return nil, nil
	}
	u, err := url.Parse(hc.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("proxy: %s URL: want http://, https://, grpc:// or grpcs://HOST:PORT", name)
	}
	if hc.Timeout <= 0 {
		hc.Timeout = DefaultTimeout
	}
	if hc.MaxInFlight <= 0 {
		hc.MaxInFlight = DefaultMaxInFlight
	}
	if hc.BreakerFailures <= 0 {
		hc.BreakerFailures = DefaultBreakerFailures
	}
	if hc.BreakerCoolDown <= 0 {
		hc.BreakerCoolDown = DefaultBreakerCoolDown
	}
	h := &hook{name: name, url: hc.URL, timeout: hc.Timeout, slots: make(chan struct{}, hc.MaxInFlight), c: c}
	switch u.Scheme {
	case "http", "https":
	case "grpc", "grpcs":
		h.rpc = grpcClient(u, c.cfg.Header)
	default:
		return nil, fmt.Errorf("proxy: %s URL: want http://, https://, grpc:// or grpcs://HOST:PORT", name)
	}
	gauge := c.m.breakerOpen.WithLabelValues(name)
	gauge.Set(0)
	h.brk = newBreaker(hc.BreakerFailures, hc.BreakerCoolDown, func(open bool) {
		if open {
			gauge.Set(1)
			c.log.Warn("proxy hook failing, circuit breaker open", "hook", name, "cool_down", hc.BreakerCoolDown)
		} else {
			gauge.Set(0)
			c.log.Info("proxy hook answering again, circuit breaker closed", "hook", name)
		}
	})
	return h, nil
}

// call runs do, one exchange with the backend that fills in the answer,
// within the hook's limits, then check validates the answer. Any failure is
// counted against the breaker and returned as one of the package's errors;
// the answer's outcome is counted by the caller.
func (h *hook) call(ctx context.Context, do func(context.Context) error, check func() error) error {
	m := h.c.m
	select {
	case h.slots <- struct{}{}:
	default:
		m.calls.WithLabelValues(h.name, "overloaded").Inc()
		return ErrOverloaded
	}
	defer func() { <-h.slots }()
	if !h.brk.allow() {
		m.calls.WithLabelValues(h.name, "breaker_open").Inc()
		return ErrBreakerOpen
	}
	inFlight := m.inFlight.WithLabelValues(h.name)
	inFlight.Inc()
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	err := do(ctx)
	if err != nil && ctx.Err() != nil {
		// The transport's error may hold the URL; the cause is what matters.
		err = fmt.Errorf("%w after %v", context.DeadlineExceeded, h.timeout)
	}
	cancel()
	if err == nil {
		if cerr := check(); cerr != nil {
			err = fmt.Errorf("%w: %s hook: bad reply: %v", ErrUnavailable, h.name, cerr)
		}
	}
	inFlight.Dec()
	m.latency.WithLabelValues(h.name).Observe(time.Since(start).Seconds())
	h.brk.done(err == nil)
	if err != nil {
		outcome := "error"
		if errors.Is(err, context.DeadlineExceeded) {
			outcome = "timeout"
		}
		m.calls.WithLabelValues(h.name, outcome).Inc()
		h.c.log.Warn("proxy hook call failed", "hook", h.name, "err", err)
		if !errors.Is(err, ErrUnavailable) {
			err = fmt.Errorf("%w: %s hook: %w", ErrUnavailable, h.name, err)
		}
		return err
	}
	return nil
}

// postJSON is one HTTP JSON exchange.
func (h *hook) postJSON(ctx context.Context, req, answer any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, vs := range h.c.cfg.Header {
		hr.Header[k] = vs
	}
	hr.Header.Set("Content-Type", "application/json")
	rsp, err := h.c.cfg.HTTPClient.Do(hr)
	if err != nil {
		return err
	}
	defer rsp.Body.Close()
	if rsp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(rsp.Body, maxReplyBytes))
		return fmt.Errorf("status %d", rsp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(rsp.Body, maxReplyBytes)).Decode(answer); err != nil {
		return fmt.Errorf("reply: %v", err)
	}
	return nil
}

// grpcClient is a gRPC client of the ProxyService at u (grpc:// over h2c,
// grpcs:// over TLS), sending header with every call.
func grpcClient(u *url.URL, header http.Header) proxyv1connect.ProxyServiceClient {
	p := new(http.Protocols)
	base := "https://" + u.Host
	if u.Scheme == "grpc" {
		p.SetUnencryptedHTTP2(true)
		base = "http://" + u.Host
	} else {
		p.SetHTTP2(true)
	}
	hc := &http.Client{Transport: &http.Transport{Protocols: p, IdleConnTimeout: 90 * time.Second}}
	addHeader := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			for k, vs := range header {
				for _, v := range vs {
					req.Header().Add(k, v)
				}
			}
			return next(ctx, req)
		}
	})
	return proxyv1connect.NewProxyServiceClient(hc, base+u.Path, connect.WithGRPC(),
		connect.WithInterceptors(addHeader), connect.WithReadMaxBytes(maxReplyBytes))
}

// connectRPC is the connect hook's exchange over gRPC, its reply put into
// the JSON answer's shape so that both transports share one validation.
func (h *hook) connectRPC(ctx context.Context, req ConnectRequest, a *connectAnswer) error {
	rsp, err := h.rpc.Connect(ctx, connect.NewRequest(&proxyv1.ConnectRequest{
		Token: req.Token, User: req.User, Rooms: req.Rooms, Ip: req.IP, Transport: req.Transport, Edge: req.Edge,
	}))
	if err != nil {
		return err
	}
	switch v := rsp.Msg.GetAnswer().(type) {
	case *proxyv1.ConnectResponse_Result:
		a.Result = &connectResult{User: v.Result.GetUser(), ExpireAt: v.Result.GetExpireAt(), Rooms: v.Result.GetRooms()}
		if info := v.Result.GetInfo(); len(info) > 0 {
			if !json.Valid(info) {
				return errors.New("info is not JSON")
			}
			a.Result.Info = info
		}
	case *proxyv1.ConnectResponse_Disconnect:
		a.Disconnect = fromPB(v.Disconnect)
	}
	return nil
}

// joinRPC is the join hook's exchange over gRPC.
func (h *hook) joinRPC(ctx context.Context, req JoinRequest, a *joinAnswer) error {
	rsp, err := h.rpc.Join(ctx, connect.NewRequest(&proxyv1.JoinRequest{
		User: req.User, ConnKey: req.ConnKey, Room: req.Room, Transport: req.Transport, Edge: req.Edge, Info: req.Info,
	}))
	if err != nil {
		return err
	}
	switch v := rsp.Msg.GetAnswer().(type) {
	case *proxyv1.JoinResponse_Result:
		a.Result = &struct{}{}
	case *proxyv1.JoinResponse_Error:
		a.Error = &joinError{Message: v.Error.GetMessage()}
	case *proxyv1.JoinResponse_Disconnect:
		a.Disconnect = fromPB(v.Disconnect)
	}
	return nil
}

func fromPB(d *proxyv1.Disconnect) *Disconnect {
	code := d.GetCode()
	if code > 0xffff {
		code = 0 // refused as out of range by checkDisconnect
	}
	return &Disconnect{Code: uint16(code), Reason: d.GetReason()}
}
