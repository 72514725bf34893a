package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	jsclient "github.com/quicpush/quicpush/clients/js"
	"github.com/quicpush/quicpush/core"
	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/internal/devcert"
	"github.com/quicpush/quicpush/server"
)

type serveCmd struct {
	QUICAddr   string `name:"quic-addr" help:"UDP address for raw QUIC and WebTransport; default :4433, or 127.0.0.1:4433 with the development secrets (see --listen-all)."`
	TCPAddr    string `name:"tcp-addr" help:"TCP address for framed TCP, TLS and WebSocket; default :4434, or 127.0.0.1:4434 with the development secrets (see --listen-all)."`
	APIAddr    string `name:"api-addr" help:"HTTP address of the push API (Connect, gRPC, gRPC-Web, JSON), /metrics, /healthz and /readyz; default :8080, or 127.0.0.1:8080 with the development secrets (see --listen-all)."`
	ListenAll  bool   `name:"listen-all" help:"Listen on every interface even with the development secrets (the development API key and certificate are then reachable from the network; the demo page's secrets stay loopback-only). Addresses given explicitly are used as given."`
	AdminAddr  string `name:"admin-addr" help:"Address of /metrics, /healthz, /readyz and /debug/pprof/ (e.g. 127.0.0.1:6060); empty: off (the API port answers /metrics, /healthz and /readyz in any case). Keep it on loopback."`
	AdminUI    bool   `name:"admin-ui" help:"Serve the live admin page at /admin/ on the admin listener (docs/admin.md); without --admin-addr the listener is put on a free loopback port, printed in the banner. Needs --admin-token, except with the development secrets, where a token is generated and printed."`
	AdminToken string `name:"admin-token" help:"Token of the admin page: its JSON API takes it as a bearer header; open the page as http://ADMIN-ADDR/admin/#token=TOKEN (the fragment never leaves the browser)."`

	CertFile string `name:"cert-file" help:"TLS certificate (PEM); default: a development certificate in --dev-dir."`
	KeyFile  string `name:"key-file" help:"TLS private key (PEM) for --cert-file."`
	DevDir   string `default:".quicpush-dev" help:"Where the development certificate and secrets are kept."`

	APIKeys []string `name:"api-key" help:"API keys accepted from backends (repeatable or comma-separated): KEY, or sha256:HEX (the key's SHA-256 in 64 hex digits, so the configuration need not hold the key). A prefix limits a key: push:KEY (PushKeys, PushUsers, PushRoom, Broadcast, Disconnect, Subscribe, Unsubscribe) or read:KEY (Online, History), e.g. read:sha256:HEX; without one a key may call every method. Default: a generated one in --dev-dir."`
	jwtFlags
	proxyFlags

	edgeFlags
	MergeWindow  time.Duration `default:"1ms" help:"How long core waits to merge a room's messages into one write."`
	APIRateLimit float64       `name:"api-rate-limit" default:"10000" help:"Calls per second each API key may make (burst: twice that; more get ResourceExhausted); -1 (as --api-rate-limit=-1): unlimited."`
	apiHTTPFlags
	historyFlags
	serverRoomsFlags

	logFlags
	configFlags
	tracingFlags
}

// AfterApply fills in the addresses not given. The development secrets are
// printed in the banner and handed to the demo page, so a server that uses
// them listens on loopback unless --listen-all (or an address) says
// otherwise: `make run` on a laptop is not a service for the café's network.
func (c *serveCmd) AfterApply() error {
	host := ""
	if c.devSecrets() && !c.ListenAll {
		host = "127.0.0.1"
	}
	for _, a := range []struct {
		addr *string
		port string
	}{{&c.QUICAddr, "4433"}, {&c.TCPAddr, "4434"}, {&c.APIAddr, "8080"}} {
		if *a.addr == "" {
			*a.addr = net.JoinHostPort(host, a.port)
		}
	}
	return nil
}

// devSecrets reports whether the development JWT secret or API key is in
// use: whenever one of --jwt-* and --api-key is missing (see secrets).
func (c *serveCmd) devSecrets() bool {
	return !c.jwtFlags.configured() || len(c.APIKeys) == 0
}

func (c *serveCmd) Run() error {
	log := c.logger("serve")
	cert, dev, err := c.certificate()
	if err != nil {
		return err
	}
	secret, keys, err := c.secrets()
	if err != nil {
		return err
	}
	// The demo page is a development aid: it gets the API key and a token,
	// so it is offered only with the development secrets.
	var demo *jsclient.DemoConfig
	if dev && !c.jwtFlags.configured() && len(c.APIKeys) == 0 {
		tok, err := auth.IssueHS256(secret, "demo", []string{"*"}, 24*time.Hour)
		if err != nil {
			return err
		}
		hash := devcert.Hash(cert)
		demo = &jsclient.DemoConfig{
			CertHash: base64.StdEncoding.EncodeToString(hash[:]),
			Token:    tok,
			Room:     "lobby",
			APIKey:   keys[0],
		}
	}
	nss, policies, err := c.namespaces()
	if err != nil {
		return err
	}
	vc, err := c.jwtFlags.verifierConfig(secret)
	if err != nil {
		return err
	}
	pc, err := c.proxyFlags.config()
	if err != nil {
		return err
	}
	ec, err := c.edgeFlags.config(c.QUICAddr, c.TCPAddr, c.RecoveryLimit)
	if err != nil {
		return err
	}
	ec.Namespaces = nss
	ui, adminAddr, err := c.adminUI()
	if err != nil {
		return err
	}
	tr, err := c.start("quicpush")
	if err != nil {
		return err
	}
	defer stopTracing(tr)
	srv, err := server.StartSingle(server.SingleConfig{
		Tracer:       tr.Enabled(),
		AdminUI:      ui,
		History:      policies,
		ServerRooms:  c.ServerRoomsTTL,
		APIRateLimit: c.APIRateLimit,
		APIAddr:      c.APIAddr,
		APIHTTP:      c.apiHTTPFlags.config(),
		AdminAddr:    adminAddr,
		Edge:         ec,
		Core:         core.Config{MergeWindow: c.MergeWindow},
		Certificate:  cert,
		Auth:         vc,
		Proxy:        pc,
		APIKeys:      keys,
		Logger:       log,
		Demo:         demo,
	})
	if err != nil {
		return err
	}
	if demo != nil {
		// The edge's ports are known only now (they may have been 0).
		demo.WebTransport = "https://" + hostPort(srv.Edge.QUICAddr()) + "/wt"
		demo.WebSocket = "ws://" + hostPort(srv.Edge.TCPAddr()) + "/ws"
	}
	c.banner(srv, cert, dev, keys, demo, ui)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("draining: clients are told to reconnect")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

func (c *serveCmd) certificate() (tls.Certificate, bool, error) {
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		return cert, false, err
	}
	cert, err := devcert.LoadOrCreate(c.DevDir)
	return cert, true, err
}

// secrets returns the kid-less HS256 secret (--jwt-secret, or the
// development one when no key flag is given) and the API keys.
func (c *serveCmd) secrets() ([]byte, []string, error) {
	if !c.devSecrets() {
		return []byte(c.JWTSecret), c.APIKeys, nil
	}
	st, err := loadDevState(c.DevDir, true)
	if err != nil {
		return nil, nil, err
	}
	secret := []byte(c.JWTSecret)
	if !c.jwtFlags.configured() {
		if secret, err = st.secret(); err != nil {
			return nil, nil, err
		}
	}
	keys := c.APIKeys
	if len(keys) == 0 {
		keys = []string{st.APIKey}
	}
	return secret, keys, nil
}

// adminUI is the admin page's configuration (nil without --admin-ui) and
// the admin listener's address: a free loopback port when the page is asked
// for without one. Without --admin-token, only the development secrets get
// a token, generated for this run and printed in the banner.
func (c *serveCmd) adminUI() (*server.AdminUIConfig, string, error) {
	if !c.AdminUI {
		return nil, c.AdminAddr, nil
	}
	addr := c.AdminAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	tok := c.AdminToken
	if tok == "" {
		if !c.devSecrets() {
			return nil, "", errors.New("--admin-ui needs --admin-token (or QUICPUSH_ADMIN_TOKEN)")
		}
		tok = "dev-admin-" + rand.Text()
	}
	return &server.AdminUIConfig{Token: tok}, addr, nil
}

// banner prints where everything listens and commands to try it.
func (c *serveCmd) banner(srv *server.Single, cert tls.Certificate, dev bool, keys []string, demo *jsclient.DemoConfig, ui *server.AdminUIConfig) {
	quic := hostPort(srv.Edge.QUICAddr())
	tcp := hostPort(srv.Edge.TCPAddr())
	api := hostPort(srv.APIAddr())
	hash := devcert.Hash(cert)
	var b strings.Builder
	fmt.Fprintf(&b, "quicpush is running (single process, in-process bus)\n\n")
	fmt.Fprintf(&b, "  raw QUIC       quic://%s          (ALPN quicpush/1)\n", quic)
	fmt.Fprintf(&b, "  WebTransport   https://%s/wt\n", quic)
	fmt.Fprintf(&b, "  framed TCP     tcp://%s           (tls:// too)\n", tcp)
	fmt.Fprintf(&b, "  WebSocket      ws://%s/ws         (wss:// too)\n", tcp)
	fmt.Fprintf(&b, "  push API       http://%s          (Connect, gRPC, gRPC-Web, JSON)\n", api)
	fmt.Fprintf(&b, "  metrics        http://%s/metrics\n", api)
	if demo != nil {
		fmt.Fprintf(&b, "  demo page      http://%s/demo/            (open in Chromium: WebTransport, WebSocket fallback)\n", api)
	}
	if c.devSecrets() && isLoopback(srv.Edge.QUICAddr()) && isLoopback(srv.Edge.TCPAddr()) && isLoopback(srv.APIAddr()) {
		fmt.Fprintf(&b, "  (loopback only, as the development secrets are in use: --listen-all opens every interface)\n")
	}
	if srv.Admin != nil {
		fmt.Fprintf(&b, "  pprof          http://%s/debug/pprof/\n", srv.Admin.Addr())
	}
	switch {
	case ui != nil && c.AdminToken == "":
		// A generated development token: shown, like the development API key.
		fmt.Fprintf(&b, "  admin page     http://%s/admin/#token=%s\n", srv.Admin.Addr(), ui.Token)
	case ui != nil:
		fmt.Fprintf(&b, "  admin page     http://%s/admin/#token=$ADMIN_TOKEN  (given with --admin-token; not shown)\n", srv.Admin.Addr())
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "  certificate SHA-256 (serverCertificateHashes / --cert-hash):\n    base64 %s\n    hex    %s\n",
		base64.StdEncoding.EncodeToString(hash[:]), hex.EncodeToString(hash[:]))
	if cert.Leaf != nil {
		fmt.Fprintf(&b, "    valid until %s%s\n", cert.Leaf.NotAfter.Format(time.RFC3339), map[bool]string{true: " (development certificate)"}[dev])
	}
	// A key given with --api-key is the operator's secret (and may be a
	// hash): only the generated development key is shown.
	key := "$API_KEY"
	if len(c.APIKeys) == 0 {
		key = keys[0]
		fmt.Fprintf(&b, "  API key        %s\n\n", key)
	} else {
		fmt.Fprintf(&b, "  API key        (given with --api-key; not shown)\n\n")
	}
	self := selfCommand()
	fmt.Fprintf(&b, "Try it:\n")
	switch {
	case c.JWTSecret != "":
		fmt.Fprintf(&b, "  TOKEN=$(%s token --user alice --rooms lobby --jwt-secret \"$JWT_SECRET\")\n", self)
	case c.jwtFlags.configured():
		fmt.Fprintf(&b, "  TOKEN=<a token from your issuer, for the room lobby>\n")
	default:
		devDir := ""
		if c.DevDir != defaultDevDir {
			devDir = " --dev-dir " + shellQuote(c.DevDir)
		}
		fmt.Fprintf(&b, "  TOKEN=$(%s token --user alice --rooms lobby%s)\n", self, devDir)
	}
	fmt.Fprintf(&b, "  %s listen --token \"$TOKEN\" --room lobby --endpoint 'quic://%s tcp://%s' --cert-hash %s\n",
		self, quic, tcp, hex.EncodeToString(hash[:]))
	fmt.Fprintf(&b, "  curl -H \"Authorization: Bearer %s\" -H 'Content-Type: application/json' \\\n", key)
	fmt.Fprintf(&b, "    -d '{\"room\":\"lobby\",\"text\":\"{\\\"test\\\":1}\"}' http://%s/quicpush.push.v1.PushService/PushRoom\n", api)
	fmt.Fprintf(&b, "  go tool -modfile=tools/go.mod grpcurl -plaintext -H \"Authorization: Bearer %s\" \\\n", key)
	fmt.Fprintf(&b, "    -d '{\"room\":\"lobby\",\"text\":\"hi\"}' %s quicpush.push.v1.PushService/PushRoom\n", api)
	fmt.Print(b.String())
}

// selfCommand is how the banner names this program, so that its commands
// run as pasted: the path it was started with, or `go run ./cmd/quicpush`
// when `go run` (make run) built it in a temporary directory that is gone
// when it exits.
func selfCommand() string {
	exe := os.Args[0]
	if filepath.Base(filepath.Dir(exe)) == "exe" && strings.Contains(exe, "go-build") {
		return "go run ./cmd/quicpush"
	}
	return shellQuote(exe)
}

// shellQuote quotes s for a POSIX shell when it holds anything but the
// characters of a plain path.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func isLoopback(a net.Addr) bool {
	host, _, err := net.SplitHostPort(a.String())
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

// hostPort shows a wildcard listen address as 127.0.0.1 so it can be pasted.
func hostPort(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
