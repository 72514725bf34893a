package quicpush

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// DefaultMigrateTimeout bounds Migrate's probe of a new path when
// WithMigrateTimeout is not given: quic-go probes after 200 ms, then backs
// off exponentially, so 3 s covers four probes, enough for a cellular path's
// first round trips, while a dead old path stalls pushes no longer than that.
const DefaultMigrateTimeout = 3 * time.Second

// ErrNotMigrated is returned by Migrate when the live connection could not
// move to the new path: its transport cannot change paths (only raw QUIC
// can), the path could not be opened, or its probe was not answered in time.
// The connection has been closed then, and the client reconnects over the
// new network as after any lost connection, resuming its streams: a push may
// come late, none is skipped. The error wraps the cause.
var ErrNotMigrated = errors.New("quicpush: connection not migrated; reconnecting")

// maxPathsPerConn bounds the paths Migrate opens on one connection. Each
// holds a socket for as long as the connection lives: quic-go (v0.64) keeps
// a connection registered with every path's transport, so one cannot be
// closed without ending the connection. Past it, Migrate reconnects
// instead (with 0-RTT: one round trip), which starts over with one socket.
const maxPathsPerConn = 8

// ErrNotConnected is returned by Migrate when the client has no live
// connection: a reconnect in progress will use the new network anyway.
var ErrNotConnected = errors.New("quicpush: not connected")

// Migrate moves the live connection to a new network path, as an app does
// when the device changes networks (Wi-Fi to cellular and back): on raw QUIC
// it opens a socket on the new network (WithPathConn; by default a new UDP
// socket, which the system routes over its current default network), probes
// the edge from it (QUIC path validation), and switches the connection to it
// once the edge has answered. The session stays: no handshake, no resume, no
// push lost or repeated, and the edge sees the client at its new address.
//
// When the connection cannot move (see ErrNotMigrated), Migrate closes it and
// the client reconnects and resumes. ctx and WithMigrateTimeout bound the
// probe. Calls are serialized. See NetworkChanged for a call that does not
// wait.
func (c *Client) Migrate(ctx context.Context) error {
	c.migrateMu.Lock()
	defer c.migrateMu.Unlock()
	c.mu.Lock()
	cn, closed := c.conn, c.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if cn == nil {
		return ErrNotConnected
	}
	err := c.migrate(ctx, cn)
	if err == nil {
		// The old network may be gone, and the edge sends to the new
		// address only once a packet of the connection, not just of the
		// probe, arrives from it: a client that only receives would send
		// none before its next heartbeat.
		cn.ping()
		c.migrations.Add(1)
		c.log.Info("quicpush: connection migrated to a new path", "endpoint", cn.url)
		return nil
	}
	if ctx.Err() != nil && !errors.Is(err, errProbeTimeout) {
		// The caller gave up: the connection is left as it was.
		return fmt.Errorf("quicpush: migrate: %w", err)
	}
	c.log.Info("quicpush: connection could not migrate; reconnecting", "endpoint", cn.url, "err", err)
	cn.shut(0, "network changed: "+err.Error(), 0)
	return fmt.Errorf("%w: %w", ErrNotMigrated, err)
}

// NetworkChanged tells the client the device's network changed: it migrates
// the live connection in the background, as Migrate does with the migrate
// timeout, and returns at once. Calls while a migration runs are folded into
// one more migration after it, from the network current then. Wire it to the
// platform's network callbacks (docs/mobile.md).
func (c *Client) NetworkChanged() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.conn == nil {
		return // a reconnect, if any, dials the new network anyway
	}
	if c.migrating {
		c.migrateAgain = true
		return
	}
	c.migrating = true
	c.goLocked(func() {
		for {
			_ = c.Migrate(c.ctx)
			c.mu.Lock()
			again := c.migrateAgain && !c.closed
			c.migrateAgain = false
			c.migrating = again
			c.mu.Unlock()
			if !again {
				return
			}
		}
	})
}

// Migrations returns how many times the client's connections moved to a new
// path without reconnecting.
func (c *Client) Migrations() int64 { return c.migrations.Load() }

// errProbeTimeout is a path probe the edge did not answer within the migrate
// timeout.
var errProbeTimeout = errors.New("path probe not answered")

// pathMover is a transport that can move to a new network path: raw QUIC.
type pathMover interface {
	movePath(ctx context.Context, pc *net.UDPConn) error
}

func (t frameTransport) movePath(ctx context.Context, pc *net.UDPConn) error {
	return t.c.MovePath(ctx, pc)
}

// migrate probes a new path for cn's QUIC connection and switches to it.
func (c *Client) migrate(ctx context.Context, cn *conn) error {
	pm, ok := cn.t.(pathMover)
	if !ok || cn.name != transportQUIC {
		return fmt.Errorf("a %s connection cannot change paths", cn.name)
	}
	if cn.paths >= maxPathsPerConn {
		return fmt.Errorf("the connection moved %d times, the most it may", cn.paths)
	}
	pc, err := c.pathConn(ctx)
	if err != nil {
		return fmt.Errorf("open path: %w", err)
	}
	uc, ok := pc.(*net.UDPConn)
	if !ok {
		// quic-go sends on a new path with the ECN and segmentation
		// offload settings of the first one, which only a UDP socket
		// supports (v0.64 panics on any other PacketConn).
		_ = pc.Close()
		return fmt.Errorf("open path: got a %T, want a *net.UDPConn", pc)
	}
	pctx, cancel := context.WithTimeoutCause(ctx, c.opts.migrateTimeout, errProbeTimeout)
	defer cancel()
	if err := pm.movePath(pctx, uc); err != nil {
		return err
	}
	cn.paths++
	return nil
}

// pathConn opens the socket of a new path.
func (c *Client) pathConn(ctx context.Context) (net.PacketConn, error) {
	if f := c.opts.pathConn; f != nil {
		return f(ctx)
	}
	return net.ListenUDP("udp", nil)
}
