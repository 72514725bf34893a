package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDepsDryRun runs scripts/deps.sh (what make test and CI call to install
// the Debian packages the tests need) in its dry-run mode: with none of the
// commands on PATH it names every package, with all of them nothing.
func TestDepsDryRun(t *testing.T) {
	script, err := filepath.Abs("../../scripts/deps.sh")
	if err != nil {
		t.Fatal(err)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	deps := func(path string, args ...string) (string, error) {
		cmd := exec.Command(bash, append([]string{script, "--dry-run"}, args...)...)
		cmd.Env = []string{"PATH=" + path}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	empty := t.TempDir()
	all := []string{"curl", "git", "redis-server", "openjdk-17-jre-headless", "maven", "chromium", "openjdk-17-jdk-headless"}
	for _, tt := range []struct {
		group string
		pkgs  []string
	}{
		{"", all},
		{"go", all[:5]},
		{"js", all[5:6]},
		{"java", []string{"openjdk-17-jdk-headless", "maven"}},
	} {
		var args []string
		if tt.group != "" {
			args = []string{tt.group}
		}
		out, err := deps(empty, args...)
		if err != nil {
			t.Fatalf("deps.sh --dry-run %s: %v\n%s", tt.group, err, out)
		}
		if want := "apt-get install -y " + strings.Join(tt.pkgs, " "); !strings.Contains(out, want) {
			t.Errorf("deps.sh --dry-run %s with an empty PATH: %q, want %q", tt.group, out, want)
		}
	}

	// Every command present (stand-ins): nothing to install, nothing said.
	full := t.TempDir()
	for _, cmd := range []string{"curl", "git", "redis-server", "java", "mvn", "chromium", "javac"} {
		if err := os.WriteFile(filepath.Join(full, cmd), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := deps(full); err != nil || out != "" {
		t.Errorf("deps.sh --dry-run with everything installed: %v %q", err, out)
	}
	if out, err := deps(empty, "rust"); err == nil {
		t.Errorf("deps.sh with an unknown group: %q", out)
	}
}
