package main

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestBannerCommands runs the commands serve's banner prints, as printed,
// in a shell: the token and listen lines together (listen stops after one
// message), then the curl and grpcurl pushes; the listener gets both.
func TestBannerCommands(t *testing.T) {
	s := startServe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	token, listen, curl, grpcurl := s.tryIt[0], s.tryIt[1], s.tryIt[2], s.tryIt[3]
	if !strings.Contains(token, "token") || !strings.Contains(listen, " listen ") ||
		!strings.HasPrefix(curl, "curl ") || !strings.Contains(grpcurl, "grpcurl") {
		t.Fatalf("banner commands: %q", s.tryIt)
	}
	// The banner's commands are pasted in the repository's root (grpcurl
	// comes from tools/go.mod there).
	sh := func(script string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = "../.."
		return cmd
	}
	lis := sh(token + "\n" + listen + " --count 2")
	var stdout strings.Builder
	lis.Stdout = &stdout
	stderr, err := lis.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := lis.Start(); err != nil {
		t.Fatal(err)
	}
	es := bufio.NewScanner(stderr)
	lineWith(t, es, "joined lobby")
	go func() {
		for es.Scan() {
		}
	}()
	for _, push := range []string{curl, grpcurl} {
		if out, err := sh(push).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", push, err, out)
		}
	}
	if err := lis.Wait(); err != nil {
		t.Fatalf("listen: %v; printed %q", err, stdout.String())
	}
	if got := stdout.String(); !strings.Contains(got, `{"test":1}`) || !strings.Contains(got, " hi\n") {
		t.Fatalf("listen printed %q", got)
	}
}
