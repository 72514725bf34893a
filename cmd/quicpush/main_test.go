package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQuickStart runs the README's quick start with the real binary: serve,
// token, two listeners (QUIC and TCP), a push with curl (JSON) and one with
// grpcurl (gRPC with reflection); both listeners print both messages.
func TestQuickStart(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "quicpush")
	build(t, "../..", "go", "build", "-o", bin, "./cmd/quicpush")
	grpcurl := filepath.Join(dir, "grpcurl")
	build(t, "../..", "go", "build", "-modfile=tools/go.mod", "-o", grpcurl, "github.com/fullstorydev/grpcurl/cmd/grpcurl")

	quicAddr, tcpAddr, apiAddr := freeUDP(t), freeTCP(t), freeTCP(t)
	devDir := filepath.Join(dir, "dev")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	serve := exec.CommandContext(ctx, bin, "serve", "--quic-addr", quicAddr, "--tcp-addr", tcpAddr, "--api-addr", apiAddr, "--dev-dir", devDir)
	out, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	serve.Stderr = os.Stderr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = serve.Process.Signal(os.Interrupt)
		_ = serve.Wait()
	})
	banner := map[string]string{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, " "); ok {
			banner[k] = strings.TrimSpace(v)
		}
		if strings.HasPrefix(line, "API key") {
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	hash, key := banner["hex"], strings.TrimSpace(strings.TrimPrefix(banner["API"], "key"))
	if len(hash) != 64 || key == "" {
		t.Fatalf("banner lacks hash or key: %v", banner)
	}

	tok := strings.TrimSpace(run(t, ctx, bin, "token", "--user", "alice", "--rooms", "lobby", "--dev-dir", devDir))
	listeners := map[string]*exec.Cmd{}
	outputs := map[string]*strings.Builder{}
	for name, ep := range map[string]string{"quic": "quic://" + quicAddr, "tcp": "tcp://" + tcpAddr} {
		cmd := exec.CommandContext(ctx, bin, "listen", "--token", tok, "--room", "lobby", "--endpoint", ep, "--cert-hash", hash, "--count", "2")
		var stdout strings.Builder
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout = &stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for the listener to have joined before pushing.
		es := bufio.NewScanner(stderr)
		for es.Scan() && !strings.HasPrefix(es.Text(), "joined") {
			if !strings.HasPrefix(es.Text(), "connected over "+name) {
				t.Fatalf("%s listener: %s", name, es.Text())
			}
		}
		go func() {
			for es.Scan() {
			}
		}()
		listeners[name], outputs[name] = cmd, &stdout
	}

	curlOut := run(t, ctx, "curl", "-sS", "--fail-with-body", "-H", "Authorization: Bearer "+key,
		"-H", "Content-Type: application/json", "-d", `{"room":"lobby","text":"{\"test\":1}"}`,
		"http://"+apiAddr+"/quicpush.push.v1.PushService/PushRoom")
	grpcOut := run(t, ctx, grpcurl, "-plaintext", "-H", "Authorization: Bearer "+key,
		"-d", `{"room":"lobby","text":"hi"}`, apiAddr, "quicpush.push.v1.PushService/PushRoom")
	for name, cmd := range listeners {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%s listener: %v", name, err)
		}
		got := outputs[name].String()
		if !strings.Contains(got, `{"test":1}`) || !strings.Contains(got, " hi\n") {
			t.Fatalf("%s listener printed %q", name, got)
		}
		for _, reply := range []string{curlOut, grpcOut} {
			i := strings.Index(reply, `"messageId"`)
			if i < 0 {
				t.Fatalf("push reply without messageId: %q", reply)
			}
			id := strings.Split(reply[i:], `"`)[3]
			if !strings.Contains(got, id) {
				t.Fatalf("%s listener lacks message %s: %q", name, id, got)
			}
		}
	}
}

func build(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

func run(t *testing.T, ctx context.Context, name string, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func freeTCP(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func freeUDP(t *testing.T) string {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}
