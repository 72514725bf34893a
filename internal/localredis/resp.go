package localredis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// errNil is the reply to a GET of a missing key (a RESP null bulk string).
var errNil = errors.New("redis: nil reply")

// maxBulk caps the bulk replies roundTrip accepts; it serves PING and test
// values, never bulk data.
const maxBulk = 1 << 20

// defaultRoundTripTimeout bounds roundTrip when ctx has no deadline.
const defaultRoundTripTimeout = 5 * time.Second

// roundTrip sends one command on a new connection and reads its reply, in
// RESP2, which every redis-server speaks. It understands the replies of the
// commands this package and its test need (simple strings, errors, integers
// and bulk strings, returned as text); a server error comes back as an error.
// It exists so that waiting for readiness needs no Redis client library.
func roundTrip(ctx context.Context, addr string, args ...string) (string, error) {
	if len(args) == 0 {
		return "", errors.New("redis: empty command")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultRoundTripTimeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	if err := conn.SetDeadline(dl); err != nil {
		return "", err
	}

	var req strings.Builder
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, req.String()); err != nil {
		return "", fmt.Errorf("redis: send %s: %w", args[0], err)
	}
	reply, err := readReply(bufio.NewReader(conn))
	if err != nil {
		return "", fmt.Errorf("redis: %s: %w", args[0], err)
	}
	return reply, nil
}

// readReply reads one RESP2 reply that is not an array.
func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read reply: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("empty reply line")
	}
	body := line[1:]
	switch line[0] {
	case '+', ':':
		return body, nil
	case '-':
		return "", fmt.Errorf("server error: %s", body)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return "", fmt.Errorf("bad bulk length %q", body)
		}
		if n < 0 {
			return "", errNil
		}
		if n > maxBulk {
			return "", fmt.Errorf("bulk reply of %d bytes is over this helper's %d", n, maxBulk)
		}
		buf := make([]byte, n+2) // the payload and its CRLF
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("read bulk reply: %w", err)
		}
		return string(buf[:n]), nil
	default:
		return "", fmt.Errorf("unsupported reply %q", line)
	}
}
