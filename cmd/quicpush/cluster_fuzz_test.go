package main

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/alecthomas/kong"

	"github.com/quicpush/quicpush/history"
)

// FuzzHistoryNamespaces parses two --history-namespace values the way the
// command line does (kong, then historyFlags.policies) and checks that
// parsing never panics and that what it accepts means what was written:
// one namespace per value, in order, with the prefix before the first "=",
// the size as written, the TTL as written or --history-ttl; that it formats
// back to values that parse to the same policies; and that Policies.For
// gives each namespace's own rooms its policy (the longest prefix wins, the
// first of equal ones). A negative TTL has no meaning and must be refused,
// not turned into the default.
func FuzzHistoryNamespaces(f *testing.F) {
	for _, pair := range [][2]string{
		{"chat/=100:5m", "ticker/=-1"},
		{"a=1", "ab=2:1h30m"},
		{"=0", "x=+7:0s"},
		{"dup=1", "dup=2"},
		{"bad", "x=1:1"},
		{"x=99999999999999999999", "y=1:-5m"},
		{"a=b=c", "q=1:9223372036s"},
	} {
		f.Add(pair[0], pair[1])
	}
	// One parser for every input (building one is most of the cost); Parse
	// sets every flag of the command again.
	var c cli
	p, err := kong.New(&c, kong.Name("quicpush"), kong.Exit(func(int) { panic("kong exited") }))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		values := []string{a, b}
		c = cli{}
		if _, err := p.Parse([]string{"core", "--history-namespace=" + a, "--history-namespace=" + b}); err != nil {
			return // kong refused the arguments: not a value policies sees
		}
		if utf8.ValidString(a) && utf8.ValidString(b) && !reflect.DeepEqual(c.Core.HistoryNamespaces, values) {
			t.Fatalf("kong passed %q for %q", c.Core.HistoryNamespaces, values)
		}
		values = c.Core.HistoryNamespaces // kong replaces invalid UTF-8 with U+FFFD
		pol, err := c.Core.policies()
		if err != nil {
			if !strings.HasPrefix(err.Error(), "--history-namespace ") {
				t.Fatalf("error %q does not name the flag", err)
			}
			return
		}
		if len(pol.Namespaces) != len(values) {
			t.Fatalf("%q: %d namespaces", values, len(pol.Namespaces))
		}
		for i, v := range values {
			ns := pol.Namespaces[i]
			prefix, spec, _ := strings.Cut(v, "=")
			sizeS, ttlS, hasTTL := strings.Cut(spec, ":")
			size, _ := strconv.Atoi(sizeS)
			ttl := c.Core.HistoryTTL
			if hasTTL {
				ttl, _ = time.ParseDuration(ttlS)
			}
			if ns.Prefix != prefix || ns.Policy.Size != size || ns.Policy.TTL != ttl {
				t.Fatalf("%q parsed as %+v, want prefix %q size %d ttl %v", v, ns, prefix, size, ttl)
			}
			if ns.Policy.TTL < 0 {
				t.Fatalf("%q accepted with a negative TTL %v (taken as the default %v)", v, ns.Policy.TTL, history.DefaultTTL)
			}
		}

		// Formatted back, the values parse to the same policies.
		again := c.Core.historyFlags
		again.HistoryNamespaces = nil
		for _, ns := range pol.Namespaces {
			again.HistoryNamespaces = append(again.HistoryNamespaces, fmt.Sprintf("%s=%d:%s", ns.Prefix, ns.Policy.Size, ns.Policy.TTL))
		}
		pol2, err := again.policies()
		if err != nil || !reflect.DeepEqual(pol2, pol) {
			t.Fatalf("%q formatted as %q parses to %+v, %v; want %+v", values, again.HistoryNamespaces, pol2, err, pol)
		}

		// Each namespace's prefix, as a room, gets the policy of the longest
		// matching prefix: its own, or the first namespace with the same one.
		for _, ns := range pol.Namespaces {
			want := ns.Policy
			for _, o := range pol.Namespaces {
				if o.Prefix == ns.Prefix {
					want = o.Policy
					break
				}
			}
			if want.Size == 0 {
				want.Size = history.DefaultSize
			}
			if want.TTL <= 0 {
				want.TTL = history.DefaultTTL
			}
			for _, room := range []string{ns.Prefix, ns.Prefix + "\x00tail"} {
				if got := pol.For(history.RoomStream(room)); got != want && !longerPrefix(pol.Namespaces, ns.Prefix, room) {
					t.Fatalf("%q: room %q gets %+v, want %+v", values, room, got, want)
				}
			}
		}
	})
}

// longerPrefix reports whether a namespace with a prefix longer than prefix
// matches room.
func longerPrefix(nss []history.Namespace, prefix, room string) bool {
	for _, o := range nss {
		if len(o.Prefix) > len(prefix) && strings.HasPrefix(room, o.Prefix) {
			return true
		}
	}
	return false
}
