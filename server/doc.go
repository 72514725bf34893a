// Package server wires quicpush's components into the processes the
// quicpush binary runs, one file per role:
//
//   - single.go: `quicpush serve`, everything in one process (an edge, core,
//     the push API and an in-process bus, with history in memory);
//   - api.go: `quicpush api`, the push API of a cluster, publishing to Kafka
//     and reading online counts, history and idempotency keys from Redis;
//   - core.go: `quicpush core`, a consumer of the Kafka topic that routes each
//     message to the edges that need it;
//   - edge.go: `quicpush edge`, client connections, recording routes in Redis
//     and serving the internal Deliver stream cores call;
//   - admin.go: the admin listener every process runs (/metrics, /healthz,
//     /readyz, /debug/pprof/);
//   - adminui*.go: the live admin page the admin listener serves with
//     AdminUIConfig (docs/admin.md).
//
// Each role has a Config, a StartX function that returns once every port is
// bound, and the same lifecycle: Shutdown(ctx) stops gracefully within ctx,
// Close stops at once; both may be called more than once. cmd/quicpush and
// the end-to-end tests start processes from here, so the tests run exactly
// what users run. Nothing below this package imports it.
package server
