package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quicpush/quicpush/internal/childproc"
)

// The quicpush binary, built once for the tests that run it.
var quicpushBinary = &childproc.GoBinary{Name: "quicpush", Dir: "../..", Args: []string{"./cmd/quicpush"}}

func TestMain(m *testing.M) {
	code := m.Run()
	quicpushBinary.Remove()
	os.Exit(code)
}

func quicpushBin(t *testing.T) string {
	t.Helper()
	path, err := quicpushBinary.Path()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// served is a running `quicpush serve` and what its banner said.
type served struct {
	quic, tcp, api, devDir string
	hash, key              string
	tryIt                  []string // the banner's commands, continuation lines joined
}

// startServe runs `quicpush serve` on free loopback ports with a fresh
// development directory, and args, until the test ends, and reads its
// banner.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	return startServeLogging(t, os.Stderr, args...)
}

// startServeLogging is startServe with serve's stderr, where it logs, going
// to the writer stderr.
func startServeLogging(t *testing.T, stderr io.Writer, args ...string) *served {
	t.Helper()
	bin := quicpushBin(t)
	s := &served{quic: freeUDP(t), tcp: freeTCP(t), api: freeTCP(t), devDir: filepath.Join(t.TempDir(), "dev")}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--quic-addr", s.quic, "--tcp-addr", s.tcp, "--api-addr", s.api, "--dev-dir", s.devDir}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	try, cont := false, false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "hex "):
			s.hash = strings.TrimSpace(strings.TrimPrefix(line, "hex "))
		case strings.HasPrefix(line, "API key "):
			s.key = strings.TrimSpace(strings.TrimPrefix(line, "API key "))
		case line == "Try it:":
			try = true
			continue
		}
		if !try {
			continue
		}
		if line == "" {
			break
		}
		if cont {
			s.tryIt[len(s.tryIt)-1] += "\n" + line
		} else {
			s.tryIt = append(s.tryIt, line)
		}
		cont = strings.HasSuffix(line, `\`)
		if !cont && len(s.tryIt) == 4 {
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if len(s.hash) != 64 || len(s.tryIt) < 4 {
		t.Fatalf("banner: hash %q, commands %q", s.hash, s.tryIt)
	}
	return s
}

// lineWith waits for a line holding want on r, and returns the lines read.
func lineWith(t *testing.T, r *bufio.Scanner, want string) string {
	t.Helper()
	var seen bytes.Buffer
	for r.Scan() {
		seen.WriteString(r.Text() + "\n")
		if strings.Contains(r.Text(), want) {
			return seen.String()
		}
	}
	t.Fatalf("no line with %q in:\n%s", want, seen.String())
	return ""
}

// A `quicpush serve` started as in the README answers /healthz and
// /readyz on its API port, with no --admin-addr.
func TestServeHealth(t *testing.T) {
	s := startServe(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + s.api + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
			t.Fatalf("%s: %d %q, want 200 ok", path, resp.StatusCode, body)
		}
	}
}
