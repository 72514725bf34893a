package push

import (
	"fmt"
	"testing"
)

func TestPagePresence(t *testing.T) {
	conns := func() []PresenceConn {
		return []PresenceConn{
			{Key: "k4", User: "carol"}, {Key: "k2", User: "alice"}, {Key: "k3", User: "bob"},
			{Key: "k1", User: "alice"}, {Key: "k5", User: "dave"},
		}
	}
	str := func(page []PresenceUser) string {
		s := ""
		for _, u := range page {
			s += u.User + fmt.Sprint(len(u.Conns))
			for _, c := range u.Conns {
				s += c.Key
			}
			s += " "
		}
		return s
	}
	for _, tc := range []struct {
		after string
		limit int
		want  string
		more  bool
	}{
		{"", 10, "alice2k1k2 bob1k3 carol1k4 dave1k5 ", false},
		{"", 2, "alice2k1k2 bob1k3 ", true},
		{"bob", 2, "carol1k4 dave1k5 ", false},
		{"bobby", 1, "carol1k4 ", true}, // a user that left since: resume after it
		{"dave", 5, "", false},
		{"zed", 5, "", false},
		{"", 4, "alice2k1k2 bob1k3 carol1k4 dave1k5 ", false},
	} {
		page, more := PagePresence(conns(), tc.after, tc.limit)
		if got := str(page); got != tc.want || more != tc.more {
			t.Errorf("after %q limit %d: %q more=%v, want %q more=%v", tc.after, tc.limit, got, more, tc.want, tc.more)
		}
	}
	if n := DistinctUsers(conns()); n != 4 {
		t.Errorf("DistinctUsers = %d, want 4", n)
	}
}
