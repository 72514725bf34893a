package quicpush

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the client free of server code and server
// dependencies: an application that embeds it must not pull them in.
func TestDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	const (
		self      = "github.com/quicpush/quicpush/clients/go"
		frameconn = "github.com/quicpush/quicpush/internal/frameconn"
	)
	out, err := exec.Command(goTool, "list", "-deps", self).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{self: true, frameconn: true, "github.com/quicpush/quicpush/wire": true}
	banned := []string{"prometheus", "franz-go", "twmb", "redis", "rueidis", "connectrpc"}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list printed nothing")
	}
	for _, dep := range deps {
		if strings.HasPrefix(dep, "github.com/quicpush/quicpush") && !allowed[dep] {
			t.Errorf("depends on server package %s", dep)
		}
		for _, b := range banned {
			if strings.Contains(dep, b) {
				t.Errorf("depends on %s", dep)
			}
		}
	}
}

// TestTransportDependencies keeps the transports the client shares with the
// tests and the load generator (internal/frameconn) on the standard library,
// the wire codec and the transport libraries: a server dependency added
// there would reach every application that embeds the client.
func TestTransportDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	const frameconn = "github.com/quicpush/quicpush/internal/frameconn"
	out, err := exec.Command(goTool, "list", "-f", "{{join .Imports \"\\n\"}}", frameconn).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := []string{
		"github.com/quicpush/quicpush/wire",
		"github.com/quic-go/quic-go",
		"github.com/quic-go/webtransport-go",
		"github.com/gobwas/ws",
	}
	imports := strings.Fields(string(out))
	if len(imports) == 0 {
		t.Fatal("go list printed nothing")
	}
next:
	for _, imp := range imports {
		if !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
			continue // the standard library
		}
		for _, a := range allowed {
			if imp == a || strings.HasPrefix(imp, a+"/") {
				continue next
			}
		}
		t.Errorf("%s imports %s", frameconn, imp)
	}
}
