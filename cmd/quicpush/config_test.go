package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	"go.yaml.in/yaml/v3"
)

// writeConfig writes a configuration file for a test.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quicpush.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// parseErr parses args as the binary does and returns the error.
func parseErr(t *testing.T, args ...string) error {
	t.Helper()
	var c cli
	p, err := kong.New(&c, options()...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Parse(args)
	return err
}

// TestConfigFilePrecedence: the file sets what neither the command line nor
// the environment does; the environment beats the file and the command line
// beats both; lists, durations and numbers read as YAML writes them.
func TestConfigFilePrecedence(t *testing.T) {
	path := writeConfig(t, `
api-addr: 127.0.0.1:18080
tcp-addr: 127.0.0.1:18081
quic-addr: 127.0.0.1:18082
history-size: 50
write-budget: 0
ping-interval: 7s
api-key: [one, "push:two"]
namespace:
  - "chat/:join-leave=on"
  - "pos/:history=-1"
quic-0rtt: false
kafka-brokers: [k1:9092, k2:9092]
`)
	t.Setenv("QUICPUSH_TCP_ADDR", "127.0.0.1:28081")
	t.Setenv("QUICPUSH_QUIC_ADDR", "127.0.0.1:28082")
	c := parse(t, "serve", "--config", path, "--quic-addr", "127.0.0.1:38082")
	s := c.Serve
	if s.APIAddr != "127.0.0.1:18080" || s.TCPAddr != "127.0.0.1:28081" || s.QUICAddr != "127.0.0.1:38082" {
		t.Errorf("addresses %s %s %s: want the file's, the environment's and the command line's", s.APIAddr, s.TCPAddr, s.QUICAddr)
	}
	if s.HistorySize != 50 || s.WriteBudget != 0 || s.PingInterval != 7*time.Second || s.QUIC0RTT {
		t.Errorf("scalars: history %d, budget %v, ping %v, 0-RTT %v", s.HistorySize, s.WriteBudget, s.PingInterval, s.QUIC0RTT)
	}
	if strings.Join(s.APIKeys, " ") != "one push:two" || len(s.Namespaces) != 2 || s.Namespaces[1] != "pos/:history=-1" {
		t.Errorf("lists: %q %q", s.APIKeys, s.Namespaces)
	}
	// The same file serves a cluster command, which takes its own keys.
	c = parse(t, "core", "--config", path)
	if strings.Join(c.Core.KafkaBrokers, " ") != "k1:9092 k2:9092" || c.Core.HistorySize != 50 {
		t.Errorf("core: brokers %q, history %d", c.Core.KafkaBrokers, c.Core.HistorySize)
	}
	// And --config itself may come from the environment.
	t.Setenv("QUICPUSH_CONFIG", path)
	if c = parse(t, "api"); c.API.APIAddr != "127.0.0.1:18080" {
		t.Errorf("QUICPUSH_CONFIG: api-addr %s", c.API.APIAddr)
	}
}

// TestConfigFileRefusesMistakes: unknown keys, mappings where values go,
// values a flag cannot take, and a missing file are errors that say what
// is wrong.
func TestConfigFileRefusesMistakes(t *testing.T) {
	for body, want := range map[string]string{
		"api-adr: x\njwt-sceret: y\n": "unknown keys api-adr, jwt-sceret",
		"config: other.yaml\n":        "unknown keys config",
		"api-key: {a: b}\n":           "api-key: a value or a list, not a mapping",
		"api-key: [{a: b}]\n":         "api-key: a list of values, not of mappings",
		"history-size: lots\n":        "history-size",
		"ping-interval: soon\n":       "ping-interval",
		"api-addr: [unterminated\n":   "configuration: yaml",
	} {
		err := parseErr(t, "serve", "--config", writeConfig(t, body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", body, err, want)
		}
	}
	if err := parseErr(t, "serve", "--config", "/nonexistent/quicpush.yaml"); err == nil {
		t.Error("a missing file was accepted")
	}
	if err := parseErr(t, "serve", "--config", writeConfig(t, "")); err != nil {
		t.Errorf("an empty file: %v", err)
	}
}

// TestConfigCheck: `quicpush config check` prints a command's settings as a
// YAML file that names each value's source and holds no secret; loaded
// back (secrets aside), it gives the same settings.
func TestConfigCheck(t *testing.T) {
	const secret, key, header = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t", "k3y-of-the-backend", "hook-key-value"
	path := writeConfig(t, `
jwt-secret: `+secret+`
api-key: [`+key+`]
proxy-header: [X-Api-Key=`+header+`]
redis-password: p4ssw0rd
otlp-endpoint: https://otel:s3cr3tpw@collector:4318/v1/traces
proxy-join-url: http://hooks:8080/join?key=hookk3y
history-size: 50
kafka-brokers: [k1:9092]
`)
	t.Setenv("QUICPUSH_HISTORY_TTL", "3m")
	for _, cmd := range []string{"serve", "api", "core", "edge"} {
		var out bytes.Buffer
		if err := (&configCheckCmd{File: path, Command: cmd, out: &out}).Run(); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		text := out.String()
		for _, s := range []string{secret, key, header, "p4ssw0rd", "s3cr3tpw", "hookk3y"} {
			if strings.Contains(text, s) {
				t.Fatalf("%s: a secret is printed:\n%s", cmd, text)
			}
		}
		for _, line := range []string{"history-size: 50 # file", "history-ttl: 3m0s # environment"} {
			if !strings.Contains(text, line+"\n") {
				t.Errorf("%s: no line %q in\n%s", cmd, line, text)
			}
		}
		var printed map[string]any
		if err := yaml.Unmarshal(out.Bytes(), &printed); err != nil {
			t.Fatalf("%s: the output is not YAML: %v\n%s", cmd, err, text)
		}
		for name := range secretFlags {
			if v, ok := printed[name]; ok && v != "<redacted>" && v != "" && len(v.([]any)) > 0 {
				t.Errorf("%s: %s printed as %v", cmd, name, v)
			}
			delete(printed, name)
		}
		b, err := yaml.Marshal(printed)
		if err != nil {
			t.Fatal(err)
		}
		var again bytes.Buffer
		if err := (&configCheckCmd{File: writeConfig(t, string(b)), Command: cmd, out: &again}).Run(); err != nil {
			t.Fatalf("%s: the printed settings do not load: %v", cmd, err)
		}
		if strip(again.String()) != strip(redactedOnly(text)) {
			t.Errorf("%s: loaded back, the settings differ:\n%s\nwant\n%s", cmd, strip(again.String()), strip(redactedOnly(text)))
		}
	}
}

// strip drops the comments (sources, the header) of config check's output.
func strip(s string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// redactedOnly replaces the redacted lines by their defaults' (the secrets
// were not loaded back).
func redactedOnly(s string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if name, _, ok := strings.Cut(line, ": <redacted>"); ok {
			switch name {
			case "jwt-secret", "redis-password":
				line = name + ": \"\""
			default:
				line = name + ": []"
			}
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// TestConfigExample: the example in docs loads for every command that takes
// a configuration file.
func TestConfigExample(t *testing.T) {
	for _, cmd := range []string{"serve", "api", "core", "edge"} {
		var out bytes.Buffer
		if err := (&configCheckCmd{File: "../../docs/quicpush.example.yaml", Command: cmd, out: &out}).Run(); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		if !strings.Contains(out.String(), "# file") {
			t.Errorf("%s: nothing taken from the example:\n%s", cmd, out.String())
		}
	}
	c := parse(t, "edge", "--config", "../../docs/quicpush.example.yaml")
	if c.Edge.JWKSURL != "https://id.example.com/.well-known/jwks.json" || len(c.Edge.Namespaces) != 3 {
		t.Errorf("edge: jwks %q, namespaces %q", c.Edge.JWKSURL, c.Edge.Namespaces)
	}
}

// TestSecretFlagsListed: every flag whose name says it holds a secret is
// redacted by config check; the others named like one are listed here as
// not secret, so that a new secret flag cannot be printed by mistake.
func TestSecretFlagsListed(t *testing.T) {
	notSecret := map[string]bool{"key-file": true, "jwt-public-key": true, "jwks-url": true, "jwks-refresh": true,
		"jwt-audience": true, "jwt-issuer": true, "jwt-es256-low-s": true, "token": true}
	var c cli
	p, err := kong.New(&c, options()...)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			looks := false
			for _, w := range []string{"secret", "password", "key", "header", "token", "jwt", "jwks"} {
				if w == "header" && strings.HasSuffix(f.Name, "-header-timeout") {
					continue
				}
				looks = looks || strings.Contains(f.Name, w)
			}
			if looks && !secretFlags[f.Name] && !notSecret[f.Name] {
				t.Errorf("--%s of %s looks like a secret: add it to secretFlags or to this test's notSecret", f.Name, n.Name)
			}
		}
		for _, ch := range n.Children {
			walk(ch)
		}
	}
	walk(p.Model.Node)
}
