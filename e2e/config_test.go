package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/gen/quicpush/push/v1/pushv1connect"
	"github.com/quicpush/quicpush/internal/devcert"
)

// TestServeConfigFile runs `quicpush serve --config FILE` with every setting
// in the file (addresses, secrets, a namespace), one of them overridden by
// the environment: a client connects with a token of the file's secret, the
// API takes the file's key, and the namespace's rooms keep no history.
func TestServeConfigFile(t *testing.T) {
	dir := t.TempDir()
	quicAddr, tcpAddr, apiAddr, admin := freeAddr(t, "udp"), freeAddr(t, "tcp"), freeAddr(t, "tcp"), freeAddr(t, "tcp")
	config := filepath.Join(dir, "quicpush.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`
quic-addr: %q
tcp-addr: %q
api-addr: 127.0.0.1:1
admin-addr: %q
dev-dir: %q
jwt-secret: %q
api-key: [%q]
namespace: ["ticker/:history=-1"]
max-conns-per-ip: -1
handshakes-per-ip: -1
log-level: warn
`, quicAddr, tcpAddr, admin, filepath.Join(dir, "dev"), testSecret, testAPIKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The environment beats the file: the API listens where it says.
	t.Setenv("QUICPUSH_API_ADDR", apiAddr)
	startProc(t, "serve", "serve", "--config", config)
	cert, err := devcert.LoadOrCreate(filepath.Join(dir, "dev"))
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: h2cTransport()}
	api := pushv1connect.NewPushServiceClient(hc, "http://"+apiAddr, connect.WithInterceptors(bearer(testAPIKey)))
	cl, in := edgeClient(t, cert, []string{"quic://" + quicAddr + " tcp://" + tcpAddr}, "alice", []string{"ticker/x", "news"}, 10*time.Second)
	defer cl.Close()
	for _, room := range []string{"ticker/x", "news"} {
		rsp, err := api.PushRoom(t.Context(), connect.NewRequest(&pushv1.PushRoomRequest{Room: room, Text: "hi"}))
		if err != nil {
			t.Fatalf("PushRoom %s: %v", room, err)
		}
		id := rsp.Msg.GetMessageId()
		eventually(t, 5*time.Second, "the push to "+room, func() bool { return in.has(id) })
		m, _ := in.get(id)
		if hasPosition := m.Epoch != ""; hasPosition != (room == "news") {
			t.Fatalf("%s: message at %d %q, want a position only in news", room, m.Offset, m.Epoch)
		}
	}
}
