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
	const self = "github.com/quicpush/quicpush/clients/go"
	out, err := exec.Command(goTool, "list", "-deps", self).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{self: true, "github.com/quicpush/quicpush/wire": true}
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
