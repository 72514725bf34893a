// Package localredis runs a real redis-server on loopback for tests and the
// cluster-mode development launcher, without Docker.
//
// The server is Debian's redis-server (apt-get install -y redis-server), or
// any redis-server binary named in Config.Bin, started with command-line
// options only: no system configuration file is read, it binds 127.0.0.1
// only, and by default it keeps nothing on disk, so Kill or Restart start
// from an empty data set; Config.Persist keeps an append-only file fsynced
// on every write, so acknowledged writes survive even Kill.
//
// A server is a child process in its own process group (which also holds any
// child Redis forks to save); on Linux it gets SIGKILL when the Go process
// dies, so a crashed or timed-out `go test` leaves nothing behind. Start
// returns once the server answers PING, and its errors carry the tail of the
// server's output, which is kept in Dir/redis.log.
//
// Restart brings the server back on the same port, so clients configured
// with Addr reconnect by themselves: that is what failover tests need.
//
// Typical use in a test:
//
//	s, err := localredis.Start(ctx, localredis.Config{})
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(func() { _ = s.Close() })
//	rdb := redis.NewClient(&redis.Options{Addr: s.Addr()})
//
// The package is for Unix-like systems; the die-with-parent guarantee holds on
// Linux only.
package localredis
