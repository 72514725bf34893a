package childproc

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// WorkDir returns the absolute path of dir, created if missing, or of a new
// temporary directory named after prefix when dir is empty; owned reports
// the latter, which the caller removes when done.
func WorkDir(dir, prefix string) (path string, owned bool, err error) {
	if dir == "" {
		d, err := os.MkdirTemp("", prefix+"-")
		if err != nil {
			return "", false, fmt.Errorf("create temporary directory: %w", err)
		}
		return d, true, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false, fmt.Errorf("resolve directory %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", false, fmt.Errorf("create directory: %w", err)
	}
	return abs, false, nil
}

// TailFile returns about the last maxLines lines of path (at most 8 KiB),
// for error messages; a missing or unreadable file gives a note instead.
func TailFile(path string, maxLines int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no output: %v)", err)
	}
	defer f.Close()
	const maxBytes = 8 << 10
	if st, err := f.Stat(); err == nil && st.Size() > maxBytes {
		if _, err := f.Seek(st.Size()-maxBytes, io.SeekStart); err != nil {
			return fmt.Sprintf("(unreadable output: %v)", err)
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(unreadable output: %v)", err)
	}
	b = bytes.TrimRight(b, "\n")
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	if len(lines) == 0 || (len(lines) == 1 && len(lines[0]) == 0) {
		return "(no output)"
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// FreeLoopbackPorts returns n distinct TCP ports that were free on 127.0.0.1
// a moment ago. All listeners stay open until every port is chosen, so the
// kernel cannot hand out the same one twice; another process may still grab
// one before the server binds it, which then fails with a clear error.
func FreeLoopbackPorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	lns := make([]net.Listener, 0, n)
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free loopback port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// checkPortFree fails if port is taken on 127.0.0.1.
func checkPortFree(port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("port %d is not free: %w", port, err)
	}
	return ln.Close()
}
