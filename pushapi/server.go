package pushapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"connectrpc.com/otelconnect"
	"go.opentelemetry.io/otel/propagation"

	"github.com/quicpush/quicpush/gen/quicpush/push/v1/pushv1connect"
	"github.com/quicpush/quicpush/wire"
)

// Handler returns the HTTP handler of the push API. It serves:
//   - the PushService, over the Connect protocol (binary and JSON), gRPC and
//     gRPC-Web, to callers with an API key;
//   - the gRPC health check (grpc.health.v1.Health), without an API key;
//   - gRPC server reflection v1 and v1alpha for the PushService, without an
//     API key, so that grpcurl and similar tools work without proto files.
//
// Every answer carries the call's request id in [RequestIDHeader].
//
// gRPC needs HTTP/2. Without TLS, serve the handler from an http.Server whose
// Protocols include both HTTP/1 and unencrypted HTTP/2 (h2c).
func (s *Service) Handler() http.Handler { return s.handler }

// newMux builds the handler returned by Handler; auth is nil when the service
// runs without API keys.
func (s *Service) newMux(auth *authenticator) http.Handler {
	// Metrics first so that rejected calls are counted, then logging, then
	// authentication.
	interceptors := []connect.Interceptor{s.metrics.interceptor(), logInterceptor{s.log}}
	if s.tracing {
		// First, so that a backend's trace context (a traceparent header)
		// is the parent of every span the call makes.
		otel, err := otelconnect.NewInterceptor(otelconnect.WithTracerProvider(s.tracerProvider), otelconnect.WithoutMetrics(),
			otelconnect.WithTrustRemote(), otelconnect.WithPropagator(propagation.TraceContext{}))
		if err != nil {
			s.log.Error("tracing of API calls is off", "err", err)
		} else {
			interceptors = append([]connect.Interceptor{otel}, interceptors...)
		}
	}
	if auth != nil {
		interceptors = append(interceptors, auth)
	}
	if s.rateLimit > 0 {
		interceptors = append(interceptors, newRateLimiter(s.rateLimit, s.metrics))
	}
	mux := http.NewServeMux()
	codecs := payloadCodecs()
	mux.Handle(pushv1connect.NewPushServiceHandler(s,
		connect.WithCodec(codecs[0]),
		connect.WithCodec(codecs[1]),
		connect.WithInterceptors(interceptors...),
		connect.WithReadMaxBytes(readMaxBytes(s.maxData, s.maxTargets)),
		connect.WithRecover(s.recovered),
	))
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(pushv1connect.PushServiceName)))
	reflector := grpcreflect.NewStaticReflector(pushv1connect.PushServiceName)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	return withRequestID(explainHTTPErrors(mux))
}

// Bodies of the HTTP-level refusals, which connect-go answers with a status
// alone: a caller trying the API with curl learns what to send instead. They
// use the Connect protocol's error shape, so a Connect client reads them too.
var (
	methodNotAllowedBody = []byte(`{"code":"unimplemented","message":"use POST (GET is accepted for Online, History, Presence and PresenceStats with the Connect protocol's GET encoding)"}`)
	unsupportedMediaBody = []byte(`{"code":"invalid_argument","message":"unsupported content type: send Content-Type: application/json or application/proto (Connect), application/grpc or application/grpc-web"}`)
)

// explainHTTPErrors gives connect-go's bodiless 405 and 415 answers a JSON
// body.
func explainHTTPErrors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&explainWriter{ResponseWriter: w}, r)
	})
}

// explainWriter writes the body of a 405 or 415 answer and drops whatever
// the handler writes after it. It flushes and unwraps to the server's
// writer, which gRPC streaming and http.ResponseController need.
type explainWriter struct {
	http.ResponseWriter
	wrote    bool
	explains bool
}

func (w *explainWriter) WriteHeader(code int) {
	if w.wrote {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.wrote = true
	var body []byte
	switch code {
	case http.StatusMethodNotAllowed:
		body = methodNotAllowedBody
	case http.StatusUnsupportedMediaType:
		body = unsupportedMediaBody
	default:
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.explains = true
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.ResponseWriter.WriteHeader(code)
	_, _ = w.ResponseWriter.Write(body)
}

func (w *explainWriter) Write(b []byte) (int, error) {
	if w.explains {
		return len(b), nil
	}
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *explainWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *explainWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// readMaxBytes bounds a request message so that an oversized one is refused
// before it is decoded. It leaves room for the largest valid request in JSON,
// where escaping can turn one byte into six characters.
func readMaxBytes(maxData, maxTargets int) int {
	return 6*(maxData+maxTargets*(wire.MaxRoomLen+4)) + 64<<10
}

// recovered turns a panic in a handler into an internal error instead of a
// crashed process.
func (s *Service) recovered(ctx context.Context, spec connect.Spec, _ http.Header, p any) error {
	s.log.ErrorContext(ctx, "panic in handler", "method", methodName(spec.Procedure), "panic", p)
	return connect.NewError(connect.CodeInternal, errors.New("internal error"))
}

// logInterceptor logs every PushService call at debug level, with its
// request id (requestIDHandler). It logs no header and no message: the API
// key is in Authorization, and payloads are the backends' data.
type logInterceptor struct{ log *slog.Logger }

func (l logInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if !l.log.Enabled(ctx, slog.LevelDebug) {
			return next(ctx, req)
		}
		start := time.Now()
		resp, err := next(ctx, req)
		l.log.DebugContext(ctx, "request",
			"method", methodName(req.Spec().Procedure),
			"protocol", req.Peer().Protocol,
			"peer", req.Peer().Addr,
			"code", codeLabel(err),
			"duration", time.Since(start),
		)
		return resp, err
	}
}

func (logInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (logInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
