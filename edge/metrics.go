package edge

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quicpush/quicpush/wire"
)

// metrics are the edge's Prometheus collectors. Labels stay low-cardinality:
// transports and codes, never users or rooms.
type metrics struct {
	connections       *prometheus.GaugeVec
	handshakes        *prometheus.CounterVec
	handshakeFailures *prometheus.CounterVec
	zeroRTT           *prometheus.CounterVec
	authFailures      prometheus.Counter
	disconnects       *prometheus.CounterVec
	slowConsumers     prometheus.Counter
	badFrames         prometheus.Counter
	deliveries        prometheus.Counter
	rooms             prometheus.Gauge
	routeErrors       prometheus.Counter
	batches           prometheus.Counter
	received          *prometheus.CounterVec
	pushLatency       prometheus.Histogram
	recoveries        *prometheus.CounterVec
	replayed          prometheus.Counter
	recoverySeconds   prometheus.Histogram
	historyErrors     prometheus.Counter
	limited           *prometheus.CounterVec
	held              prometheus.Counter
	writeInterval     prometheus.Gauge
	load              prometheus.Gauge
	migrations        *prometheus.CounterVec
	datagramsSent     prometheus.Counter
	datagramsDropped  prometheus.Counter
	datagramsTooLarge prometheus.Counter
	joinLeaveNotices  prometheus.Counter
	joinLeaveErrors   prometheus.Counter
	presenceGets      *prometheus.CounterVec
	// Server-side rooms (serverrooms.go).
	subscriptionsSkipped *prometheus.CounterVec
	serverRoomsErrors    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "quicpush", "edge"
	m := &metrics{
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "connections", Help: "Authenticated connections by transport."}, []string{"transport"}),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "handshakes_total", Help: "Connections that reached the protocol handshake, by transport."}, []string{"transport"}),
		handshakeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "handshake_failures_total", Help: "Connections dropped before the protocol handshake (TLS, QUIC, upgrade), by transport."}, []string{"transport"}),
		zeroRTT: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "zero_rtt_total", Help: "Sessions that passed Auth sent as 0-RTT data (a resumed QUIC connection), by transport."}, []string{"transport"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "auth_failures_total", Help: "Auth frames with an invalid or expired token."}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "disconnects_total", Help: "Connections closed by the edge, by disconnect code."}, []string{"code"}),
		slowConsumers: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "slow_consumers_total", Help: "Connections cut because their write queue overflowed."}),
		badFrames: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "bad_frames_total", Help: "Connections closed for a malformed or oversize frame."}),
		deliveries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "deliveries_total", Help: "Messages queued to connections."}),
		rooms: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "rooms", Help: "Rooms with at least one member on this edge."}),
		routeErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "route_errors_total", Help: "Connections refused and joins failed because the route store did not answer in time."}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "batches_total", Help: "Batches of messages handed to this edge by core."}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "messages_total", Help: "Messages handed to this edge by core, by kind."}, []string{"kind"}),
		pushLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "accept_to_queue_seconds", Help: "Time from acceptance by the push API to queueing on this edge's connections.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		recoveries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "resumes_total", Help: "Auth (user stream) and Join (room stream) answers, by stream and result: none (no position asked), recovered, not_recovered."},
			[]string{"stream", "result"}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "replayed_total", Help: "Messages replayed to resuming clients."}),
		recoverySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "history_read_seconds", Help: "Time to read what a resuming client missed.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		historyErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "history_errors_total", Help: "Resumes answered without a position because history could not be read."}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "limited_total", Help: "Connections refused or closed by a limit (connections_per_ip, handshakes_per_ip, connections_per_user, inbound_rate, resumes_per_conn: a Join with a position refused, quic_retry: a Retry asked for), by transport."},
			[]string{"limit", "transport"}),
		held: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "held_total", Help: "Room and broadcast messages held by the write policy to be written together with later ones."}),
		writeInterval: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "write_interval_seconds", Help: "The write policy's interval: the least time between two writes of a busy room's messages (0: written at once)."}),
		load: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "write_policy_load", Help: "The process's CPU use as a share of its CPUs (GOMAXPROCS), smoothed, as the write policy sees it."}),
		migrations: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "migrations_total", Help: "QUIC connections that moved to a new client address (NAT rebinding, or the client switching networks) and kept their session, by transport."}, []string{"transport"}),
		datagramsSent: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "datagrams_sent_total", Help: "Ephemeral pushes sent in a QUIC or WebTransport datagram."}),
		datagramsDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "datagrams_dropped_total", Help: "Ephemeral pushes dropped because a connection's datagram queue was full (the oldest goes) or the connection ended."}),
		datagramsTooLarge: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "datagrams_too_large_total", Help: "Ephemeral pushes too large for a datagram, sent on the connection's stream instead."}),
		joinLeaveNotices: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "join_leave_notices_total", Help: "JoinLeave frames queued to connections."}),
		joinLeaveErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "join_leave_publish_errors_total", Help: "Intervals whose join and leave changes could not be sent to the other edges."}),
		presenceGets: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "presence_gets_total", Help: "PresenceGet requests by result: ok, not_joined, forbidden, limited (past the per-connection rate), error (the presence store failed)."}, []string{"result"}),
		subscriptionsSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "subscriptions_skipped_total", Help: "Server-side rooms a connection was not put in, by reason (max_rooms: the connection's room limit reached; route: the room could not be routed here; orders: the connection had too many orders waiting and was closed with 3001)."}, []string{"reason"}),
		serverRoomsErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "server_rooms_errors_total", Help: "Reads of a user's server-side rooms that failed at Auth (the connection went on without them)."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.connections, m.handshakes, m.handshakeFailures, m.zeroRTT, m.authFailures,
			m.disconnects, m.slowConsumers, m.badFrames, m.deliveries, m.rooms, m.routeErrors, m.batches, m.received, m.pushLatency,
			m.recoveries, m.replayed, m.recoverySeconds, m.historyErrors, m.limited, m.held, m.writeInterval, m.load,
			m.migrations, m.datagramsSent, m.datagramsDropped, m.datagramsTooLarge, m.joinLeaveNotices, m.joinLeaveErrors,
			m.presenceGets, m.subscriptionsSkipped, m.serverRoomsErrors} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func codeLabel(c wire.Code) string { return strconv.Itoa(int(c)) }
