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
// parsing never panics and that what it accepts means what was written: one
// namespace per prefix (the prefix before the first "="), the last value of
// a prefix winning; the empty prefix setting every other room; the size as
// written (0: the rooms' size) and the TTL as written (or the rooms'); that
// it formats back to values that parse to the same policies; and that
// Policies.For gives each namespace's own rooms its policy (the longest
// prefix wins). A negative TTL has no meaning and must be refused, not
// turned into the default.
func FuzzHistoryNamespaces(f *testing.F) {
	for _, pair := range [][2]string{
		{"chat/=100:5m", "ticker/=-1"},
		{"a=1", "ab=2:1h30m"},
		{"=0", "x=+7:0s"},
		{"=5:1m", "x=0"},
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

		// What each prefix should get: the last value written for it.
		written := map[string]history.Policy{}
		var order []string
		for _, v := range values {
			prefix, spec, _ := strings.Cut(v, "=")
			sizeS, ttlS, hasTTL := strings.Cut(spec, ":")
			size, _ := strconv.Atoi(sizeS)
			var ttl time.Duration
			if hasTTL {
				ttl, _ = time.ParseDuration(ttlS)
			}
			if _, seen := written[prefix]; !seen && prefix != "" {
				order = append(order, prefix)
			}
			written[prefix] = history.Policy{Size: size, TTL: ttl}
		}
		rooms := history.Policy{Size: c.Core.HistorySize, TTL: c.Core.HistoryTTL}
		fill := func(p history.Policy) history.Policy {
			if p.Size == 0 {
				p.Size = rooms.Size
			}
			if p.TTL == 0 {
				p.TTL = rooms.TTL
			}
			return p
		}
		if all, ok := written[""]; ok {
			rooms = fill(all)
		}
		if pol.Rooms != rooms {
			t.Fatalf("%q: rooms get %+v, want %+v", values, pol.Rooms, rooms)
		}
		if len(pol.Namespaces) != len(order) {
			t.Fatalf("%q: %d namespaces, want %d", values, len(pol.Namespaces), len(order))
		}
		for i, prefix := range order {
			ns := pol.Namespaces[i]
			if want := fill(written[prefix]); ns.Prefix != prefix || ns.Policy != want {
				t.Fatalf("%q: namespace %d is %+v, want prefix %q %+v", values, i, ns, prefix, want)
			}
			if ns.Policy.TTL < 0 {
				t.Fatalf("%q accepted with a negative TTL %v (taken as the default %v)", values, ns.Policy.TTL, history.DefaultTTL)
			}
		}

		// Formatted back, the values parse to the same policies.
		again := c.Core.historyFlags
		again.HistoryNamespaces = nil
		if _, ok := written[""]; ok {
			again.HistoryNamespaces = append(again.HistoryNamespaces, fmt.Sprintf("=%d:%s", pol.Rooms.Size, pol.Rooms.TTL))
		}
		for _, ns := range pol.Namespaces {
			again.HistoryNamespaces = append(again.HistoryNamespaces, fmt.Sprintf("%s=%d:%s", ns.Prefix, ns.Policy.Size, ns.Policy.TTL))
		}
		pol2, err := again.policies()
		if err != nil || !reflect.DeepEqual(pol2, pol) {
			t.Fatalf("%q formatted as %q parses to %+v, %v; want %+v", values, again.HistoryNamespaces, pol2, err, pol)
		}

		// Each namespace's prefix, as a room, gets its own policy unless a
		// longer prefix matches it.
		for _, ns := range pol.Namespaces {
			want := ns.Policy
			if want.Size == 0 {
				want.Size = history.DefaultSize
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
