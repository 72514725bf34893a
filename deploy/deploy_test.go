package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dockerInstr is one Dockerfile instruction with its continuation lines
// joined.
type dockerInstr struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

func parseDockerfile(t *testing.T, text string) []dockerInstr {
	t.Helper()
	var out []dockerInstr
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		out = append(out, dockerInstr{strings.ToUpper(cmd), strings.TrimSpace(args)})
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		if l, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(l + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return out
}

// goBuild returns the arguments of the first `go build` in s, without its
// -o flag and value, and the -o value.
func goBuild(t *testing.T, s string) (args []string, out string) {
	t.Helper()
	f := strings.Fields(s)
	i := slices.Index(f, "build")
	if i < 1 || f[i-1] != "go" {
		t.Fatalf("no `go build` in %q", s)
	}
	f = f[i+1:]
	for j := 0; j < len(f); j++ {
		if f[j] == "-o" && j+1 < len(f) {
			out = f[j+1]
			j++
			continue
		}
		if f[j] == "&&" || f[j] == ";" {
			break
		}
		args = append(args, f[j])
	}
	return args, out
}

// TestDockerfileBuildsLikeMake: the image's binary is `make build`'s,
// static (CGO off) and with -trimpath, built by go.mod's toolchain.
func TestDockerfileBuildsLikeMake(t *testing.T) {
	mk := read(t, "../Makefile")
	m := regexp.MustCompile(`(?m)^build:.*\n\t(.*)$`).FindStringSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile: no build target recipe")
	}
	makeArgs, _ := goBuild(t, m[1])

	ins := parseDockerfile(t, read(t, "docker/Dockerfile"))
	var builds []string
	for _, in := range ins {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			builds = append(builds, in.args)
		}
	}
	if len(builds) != 1 {
		t.Fatalf("Dockerfile: want one RUN with go build, have %d", len(builds))
	}
	dockerArgs, out := goBuild(t, builds[0])
	if !slices.Contains(dockerArgs, "-trimpath") {
		t.Errorf("Dockerfile go build %q: no -trimpath", dockerArgs)
	}
	dockerArgs = slices.DeleteFunc(dockerArgs, func(a string) bool { return a == "-trimpath" })
	if !slices.Equal(dockerArgs, makeArgs) {
		t.Errorf("Dockerfile builds %q, make build %q (besides -o and -trimpath)", dockerArgs, makeArgs)
	}
	for _, a := range dockerArgs {
		if strings.HasPrefix(a, "-buildvcs") || strings.HasPrefix(a, "-ldflags") {
			t.Errorf("Dockerfile go build %s: the version comes from the module's VCS stamp, as with make build", a)
		}
	}

	text := read(t, "docker/Dockerfile")
	if !regexp.MustCompile(`(?m)^ENV .*\bCGO_ENABLED=0\b`).MatchString(text) {
		t.Error("Dockerfile: CGO_ENABLED=0 is not set for the build")
	}
	tc := regexp.MustCompile(`(?m)^toolchain go(\S+)$`).FindStringSubmatch(read(t, "../go.mod"))
	if tc == nil {
		t.Fatal("go.mod: no toolchain line")
	}
	if !strings.Contains(text, "ARG GO_VERSION="+tc[1]+"\n") {
		t.Errorf("Dockerfile: GO_VERSION is not go.mod's toolchain %s", tc[1])
	}
	if !slices.ContainsFunc(ins, func(in dockerInstr) bool {
		return in.cmd == "COPY" && strings.Contains(in.args, "--from=build") && strings.Contains(in.args, out)
	}) {
		t.Errorf("Dockerfile: the final stage does not copy the built %s", out)
	}
}

// TestDockerfileRuntime: the final stage is distroless static as a non-root
// user, runs nothing at build time (it has no shell), enters the binary in
// exec form and exposes the ports the commands listen on by default.
func TestDockerfileRuntime(t *testing.T) {
	ins := parseDockerfile(t, read(t, "docker/Dockerfile"))
	last := -1
	for i, in := range ins {
		if in.cmd == "FROM" {
			last = i
		}
	}
	if last < 0 {
		t.Fatal("Dockerfile: no FROM")
	}
	final := ins[last:]
	if !strings.HasPrefix(final[0].args, "gcr.io/distroless/static-debian12:nonroot") {
		t.Errorf("final base %q: want gcr.io/distroless/static-debian12:nonroot", final[0].args)
	}
	var user string
	var exposed []string
	for _, in := range final[1:] {
		switch in.cmd {
		case "RUN":
			t.Errorf("final stage RUN %q: the base has no shell", in.args)
		case "USER":
			user = in.args
		case "EXPOSE":
			exposed = append(exposed, strings.Fields(in.args)...)
		case "ENTRYPOINT":
			if !strings.HasPrefix(in.args, `["`) {
				t.Errorf("ENTRYPOINT %s: want the exec form (no shell)", in.args)
			}
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "0" || u == "root" {
		t.Errorf("USER %q: want a non-root user", user)
	}
	cluster := read(t, "../cmd/quicpush/cluster.go")
	for _, p := range []struct{ flag, port string }{
		{"quic-addr", "4433/udp"},
		{"tcp-addr", "4434/tcp"},
		{"api-addr", "8080/tcp"},
	} {
		num, _, _ := strings.Cut(p.port, "/")
		if !strings.Contains(cluster, `name:"`+p.flag+`" default:":`+num+`"`) {
			t.Errorf("cmd/quicpush/cluster.go: --%s no longer defaults to :%s; update the Dockerfile, the chart and docs/deploy.md", p.flag, num)
		}
		if !slices.Contains(exposed, p.port) {
			t.Errorf("Dockerfile: %s not exposed (have %q)", p.port, exposed)
		}
	}
}

// unitSettings parses a systemd unit into section → key → values (a key may
// repeat).
func unitSettings(t *testing.T, text string) map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("unit: bad line %q", line)
			}
			out[section][strings.TrimSpace(k)] = append(out[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return out
}

// coreShutdownSec is how long `quicpush core` gives its last batch on SIGTERM
// (cmd/quicpush/cluster.go), the longest stop after the edge's drain.
const coreShutdownSec = 15

// TestSystemdUnitHardening: the unit keeps the hardening options and limits
// docs/deploy.md promises. systemd-analyze is not available everywhere the
// tests run; this is the check that always runs.
func TestSystemdUnitHardening(t *testing.T) {
	s := unitSettings(t, read(t, "systemd/quicpush@.service"))["Service"]
	if s == nil {
		t.Fatal("unit: no [Service] section")
	}
	last := func(k string) string {
		v := s[k]
		if len(v) == 0 {
			return ""
		}
		return v[len(v)-1]
	}
	for k, want := range map[string]string{
		"DynamicUser":             "yes",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectControlGroups":    "yes",
		"RestrictNamespaces":      "yes",
		"RestrictSUIDSGID":        "yes",
		"LockPersonality":         "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"CapabilityBoundingSet":   "",
		"AmbientCapabilities":     "",
		"KillSignal":              "SIGTERM",
		"ExecStart":               "/usr/local/bin/quicpush %i",
		"StateDirectory":          "quicpush/%i",
	} {
		if _, ok := s[k]; !ok {
			t.Errorf("unit: %s missing (want %s=%s)", k, k, want)
			continue
		}
		if got := last(k); got != want {
			t.Errorf("unit: %s=%s, want %s", k, got, want)
		}
	}
	if n := last("LimitNOFILE"); n != "1048576" && n != "infinity" {
		t.Errorf("unit: LimitNOFILE=%s: a million connections need 1048576", n)
	}
	// The stop timeout must outlast the edge's drain (--drain-timeout's
	// default, read from the command) and core's 15 s.
	stop := last("TimeoutStopSec")
	m := regexp.MustCompile(`^(\d+)s$`).FindStringSubmatch(stop)
	if m == nil {
		t.Fatalf("unit: TimeoutStopSec=%q: want whole seconds like 30s", stop)
	}
	d := regexp.MustCompile(`DrainTimeout time.Duration\s+` + "`" + `default:"(\d+)s"`).FindStringSubmatch(read(t, "../cmd/quicpush/cluster.go"))
	if d == nil {
		t.Fatal("cmd/quicpush/cluster.go: no DrainTimeout default in seconds")
	}
	stopSec, _ := strconv.Atoi(m[1])
	drainSec, _ := strconv.Atoi(d[1])
	if stopSec <= max(drainSec, coreShutdownSec) {
		t.Errorf("unit: TimeoutStopSec=%s is not above the drain timeout (%d s) and core's %d s", stop, drainSec, coreShutdownSec)
	}
}

// TestSystemdUnitParses runs systemd's own parser over the unit, where
// systemd-analyze exists: a misspelt key or a bad value is only a warning to
// systemd, which would then run the service without that protection.
// `security --offline` parses like the service manager and needs no running
// systemd; the instance is the edge's.
func TestSystemdUnitParses(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze")
	}
	unit := strings.ReplaceAll(read(t, "systemd/quicpush@.service"), "/usr/local/bin/quicpush", "/bin/true")
	path := filepath.Join(t.TempDir(), "quicpush@edge.service")
	if err := os.WriteFile(path, []byte(unit), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "security", "--offline=yes", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, path+":") {
			t.Errorf("systemd: %s", strings.TrimPrefix(line, path+":"))
		}
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("systemd-analyze security: no exposure level in\n%s", out)
	}
	// 1.5 today; systemd calls up to 2.0 "OK", above it "MEDIUM".
	if level, _ := strconv.ParseFloat(m[1], 64); level > 2 {
		t.Errorf("systemd-analyze security: exposure %s, want at most 2.0", m[1])
	}
}
