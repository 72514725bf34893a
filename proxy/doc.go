// Package proxy asks the application's backend about clients: the connect
// hook authenticates a client that has no JWT (or enriches one that has),
// the join hook authorizes a room join live. Each hook calls a URL the
// operator configures, HTTP JSON POSTs (http://, https://) or the gRPC
// quicpush.proxy.v1.ProxyService of proto/quicpush/proxy/v1 (grpc:// over
// h2c, grpcs:// over TLS), with a timeout, a bound on the calls in flight and
// a circuit breaker, so that a slow or failing backend costs the edge a fast,
// well-defined refusal (connect: 3001, reconnect with backoff; join: Error
// 104, retry) instead of piled-up goroutines.
//
// The package is a leaf: it knows HTTP, JSON and its generated gRPC client,
// not sockets or the client protocol. The edge calls it through its own
// small interface (edge.ProxyHooks), which *Client implements; docs/proxy.md
// is the operator's and the backend author's guide.
//
// Files: proxy.go (Config, Client, the hooks' requests and replies),
// breaker.go (the circuit breaker), http.go (the limits around each call and
// the HTTP JSON and gRPC exchanges), metrics.go.
package proxy
