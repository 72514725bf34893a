package edge

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/wire"
)

// roomsAuth grants each token in its map: the tokens of one user with
// different rooms.
type roomsAuth map[string]auth.Identity

func (a roomsAuth) Verify(token string) (auth.Identity, error) {
	id, ok := a[token]
	if !ok {
		return auth.Identity{}, auth.ErrInvalid
	}
	return id, nil
}

// A Refresh sent before any TokenExpiring is served like one after it: the
// new token's rooms decide later Joins, wider or narrower, exactly as they
// would for a new connection with that token, and rooms already joined stay
// joined. A token of another user changes nothing.
func TestEarlyRefreshRooms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exp := time.Now().Add(time.Hour)
		e := offlineEdge(t, func(c *Config) {
			c.PingInterval = 2 * time.Hour
			c.RefreshAhead = 30 * time.Second
			c.Auth = roomsAuth{
				"a":     {User: "u", Rooms: []string{"a"}, Expires: exp},
				"b":     {User: "u", Rooms: []string{"b"}, Expires: exp},
				"other": {User: "v", Rooms: []string{"*"}, Expires: exp},
			}
		})
		defer e.Close()
		_, ft := dialFake(e)
		authenticate(t, ft, "a")
		seq := uint32(1)
		// expect sends f and checks the reply's op (and Error code).
		expect := func(f func(seq uint32) []byte, op wire.Op, code wire.Code) {
			t.Helper()
			seq++
			ft.send(f(seq))
			synctest.Wait()
			fs := ft.frames(t)
			last := fs[len(fs)-1]
			if last.op != op || last.seq != seq {
				t.Fatalf("reply %v seq %d, want %v seq %d (frames %v)", last.op, last.seq, op, seq, ft.ops(t))
			}
			if op == wire.OpError {
				var er wire.Error
				if err := er.Decode(last.body); err != nil || er.Code != code {
					t.Fatalf("error %+v %v, want code %d", er, err, code)
				}
			}
		}
		join := func(room string) func(uint32) []byte {
			return func(seq uint32) []byte { return wire.AppendJoin(nil, seq, &wire.Join{Room: room}) }
		}
		refresh := func(tok string) func(uint32) []byte {
			return func(seq uint32) []byte { return wire.AppendRefresh(nil, seq, &wire.Refresh{Token: tok}) }
		}
		expect(join("b"), wire.OpError, wire.ErrCodeForbidden)
		expect(join("a"), wire.OpJoinOK, 0)
		expect(refresh("other"), wire.OpError, wire.ErrCodeTokenRejected)
		expect(join("b"), wire.OpError, wire.ErrCodeForbidden)
		// Long before TokenExpiring.
		expect(refresh("b"), wire.OpRefreshOK, 0)
		for _, op := range ft.ops(t) {
			if op == wire.OpTokenExpiring {
				t.Fatal("TokenExpiring sent: the Refresh was not early")
			}
		}
		expect(join("b"), wire.OpJoinOK, 0)
		// a stays joined (a Leave of a room not joined is an Error), but is
		// not joined again once left.
		expect(func(seq uint32) []byte { return wire.AppendRoom(nil, wire.OpLeave, seq, "a") }, wire.OpLeaveOK, 0)
		expect(join("a"), wire.OpError, wire.ErrCodeForbidden)
	})
}
