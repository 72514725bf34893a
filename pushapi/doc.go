// Package pushapi is the push API that backends call: the PushService of
// proto/quicpush/push/v1/push.proto, served over the Connect protocol (binary
// and JSON), gRPC and gRPC-Web from one http.Handler, with the gRPC health
// check and server reflection beside it.
//
// A push call validates its request, stamps the message with an id and the
// time, and returns the id only once the [bus.Publisher] reports that the bus
// durably accepted the message; otherwise it fails with
// connect.CodeUnavailable (or connect.CodeDeadlineExceeded) and the caller may
// retry. Disconnect orders travel the same way, as push.KindDisconnect
// messages, and so do Subscribe and Unsubscribe (push.KindSubscribe and
// KindUnsubscribe), which first write the users' server-side rooms through a
// [ServerRoomsWriter]. Online reads counts from an [OnlineCounter]; Presence and
// PresenceStats read a room's members and counts from a [PresenceReader],
// a bounded page of users at a time.
//
// Backends authenticate with an API key sent as `Authorization: Bearer <key>`;
// the health check and reflection are open. Authentication, logging and
// metrics are Connect interceptors. Every call gets a request id (the
// caller's X-Request-Id when sane, else a new one), returned in the X-Request-Id
// response header and logged as request_id on every line about the call;
// API keys, Authorization headers and payloads are never logged.
//
// The package knows the bus only through bus.Publisher and the stores only
// through the small interfaces it declares (OnlineCounter, PresenceReader,
// HistoryReader, IdempotencyStore, ServerRoomsWriter), so one process wires in-memory parts and a cluster wires
// Kafka and Redis:
//
//	svc, err := pushapi.New(pushapi.Config{
//		Publisher:  bus,
//		Online:     counts,
//		APIKeys:    keys,
//		Logger:     logger,
//		Registerer: prometheus.DefaultRegisterer,
//	})
//	...
//	var protocols http.Protocols
//	protocols.SetHTTP1(true)
//	protocols.SetUnencryptedHTTP2(true) // gRPC without TLS
//	srv := &http.Server{Addr: addr, Handler: svc.Handler(), Protocols: &protocols}
package pushapi
