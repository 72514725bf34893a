package namespace_test

import (
	"strings"
	"testing"
	"time"

	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/namespace"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want namespace.Namespace
		err  string
	}{
		{spec: "chat/", want: namespace.Namespace{Prefix: "chat/"}},
		{spec: "chat/:", want: namespace.Namespace{Prefix: "chat/"}},
		{spec: "chat/:history=100,history-ttl=5m,presence=off,client-presence=on,join-leave=on,join=proxy,ephemeral=off",
			want: namespace.Namespace{Prefix: "chat/", Options: namespace.Options{
				History: history.Policy{Size: 100, TTL: 5 * time.Minute}, NoPresence: true, ClientPresence: true,
				JoinLeave: true, Join: namespace.JoinProxy, NoEphemeral: true}}},
		{spec: "a:b:join=public", want: namespace.Namespace{Prefix: "a:b", Options: namespace.Options{Join: namespace.JoinPublic}}},
		{spec: ":history=-1", want: namespace.Namespace{Options: namespace.Options{History: history.Policy{Size: -1}}}},
		{spec: "x:join=token", want: namespace.Namespace{Prefix: "x"}},
		{spec: "x:join=server", want: namespace.Namespace{Prefix: "x", Options: namespace.Options{Join: namespace.JoinServer}}},
		{spec: "history=5", err: "want PREFIX:KEY=VALUE"},
		{spec: "x:history=lots", err: "number of messages"},
		{spec: "x:history-ttl=-1s", err: "positive duration"},
		{spec: "x:presence=maybe", err: "on or off"},
		{spec: "x:join=anyone", err: "token, proxy, public or server"},
		{spec: "x:colour=blue", err: "unknown option"},
		{spec: "x:presence=on,join-leave", err: "KEY=VALUE"},
	} {
		got, err := namespace.Parse(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q) = %v, want an error with %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
			continue
		}
		again, err := namespace.Parse(got.String())
		if err != nil || again != got {
			t.Errorf("Parse(%q) = %+v, %v; want it back from its String", got.String(), again, err)
		}
	}
}

func TestFor(t *testing.T) {
	var s namespace.Set
	for _, spec := range []string{":join=public", "chat/:join-leave=on", "chat/vip/:join=server,join-leave=on"} {
		ns, err := namespace.Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		s.Add(ns)
	}
	cases := map[string]namespace.Options{
		"news":       {Join: namespace.JoinPublic},
		"chat/1":     {JoinLeave: true},
		"chat/vip/1": {Join: namespace.JoinServer, JoinLeave: true},
		"chat":       {Join: namespace.JoinPublic},
		"chat/vip":   {JoinLeave: true},
	}
	for room, want := range cases {
		if got := s.For(room); got != want {
			t.Errorf("For(%q) = %+v, want %+v", room, got, want)
		}
	}
	var none *namespace.Set
	if got := none.For("x"); got != (namespace.Options{}) {
		t.Errorf("nil Set: %+v", got)
	}
	if !s.Any(func(o namespace.Options) bool { return o.JoinLeave }) || s.Any(func(o namespace.Options) bool { return o.ClientPresence }) {
		t.Error("Any")
	}
	ns, _ := namespace.Parse("chat/:join=proxy")
	s.Add(ns)
	if got := s.For("chat/1"); got.JoinLeave || got.Join != namespace.JoinProxy {
		t.Errorf("Add did not replace the namespace: %+v", got)
	}
}

func TestPolicies(t *testing.T) {
	var s namespace.Set
	for _, spec := range []string{":history=50", "ticker/:history=-1", "chat/:history=100,history-ttl=5m"} {
		ns, err := namespace.Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		s.Add(ns)
	}
	p := s.Policies(history.Policy{Size: 10})
	for stream, want := range map[string]history.Policy{
		history.RoomStream("news"):     {Size: 50, TTL: history.DefaultTTL},
		history.RoomStream("ticker/x"): {Size: -1, TTL: history.DefaultTTL},
		history.RoomStream("chat/1"):   {Size: 100, TTL: 5 * time.Minute},
		history.UserStream("u"):        {Size: 10, TTL: history.DefaultTTL},
	} {
		if got := p.For(stream); got != want {
			t.Errorf("%s: %+v, want %+v", stream, got, want)
		}
	}
}
