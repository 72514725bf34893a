package server

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// startAPIListener serves a handler that reads the whole body on 127.0.0.1
// with the push API's connection limits.
func startAPIListener(t *testing.T, cfg APIHTTPConfig) string {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	s, err := listenAPI("127.0.0.1:0", h, slog.New(slog.DiscardHandler), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s.Addr().String()
}

// get sends a keep-alive GET on c and reads the answer.
func get(t *testing.T, c net.Conn, r *bufio.Reader) {
	t.Helper()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// closedWithin reports whether the server closes c within d, reading and
// discarding whatever it sends before.
func closedWithin(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestAPISlowBody: a body sent a byte at a time cannot hold a connection
// past ReadTimeout.
func TestAPISlowBody(t *testing.T) {
	t.Parallel()
	addr := startAPIListener(t, APIHTTPConfig{ReadTimeout: 300 * time.Millisecond})
	c := dial(t, addr)
	if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	if !closedWithin(c, 3*time.Second) {
		t.Fatal("a trickled body kept the connection open past ReadTimeout")
	}
}

// TestAPIIdleKeepAlive: a keep-alive connection without a request is closed
// after IdleTimeout.
func TestAPIIdleKeepAlive(t *testing.T) {
	t.Parallel()
	addr := startAPIListener(t, APIHTTPConfig{IdleTimeout: 300 * time.Millisecond})
	c := dial(t, addr)
	get(t, c, bufio.NewReader(c))
	if !closedWithin(c, 3*time.Second) {
		t.Fatal("an idle keep-alive connection stayed open past IdleTimeout")
	}
}

// TestAPIMaxConns: past MaxConns a new connection waits, unanswered, until
// an open one closes.
func TestAPIMaxConns(t *testing.T) {
	t.Parallel()
	addr := startAPIListener(t, APIHTTPConfig{MaxConns: 1})
	a := dial(t, addr)
	get(t, a, bufio.NewReader(a))

	b := dial(t, addr)
	if _, err := io.WriteString(b, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(b)
	_ = b.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := br.Peek(1); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a second connection was served past MaxConns 1 (%v)", err)
	}
	_ = a.Close()
	_ = b.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the waiting connection was not served once the first closed: %v", err)
	}
	resp.Body.Close()
}
