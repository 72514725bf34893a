package pushapi

import (
	"testing"
	"time"

	"connectrpc.com/connect"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/history"
)

func TestHistoryMethod(t *testing.T) {
	t.Parallel()
	none := runServer(t, Config{})
	c := none.client(protocols[0], "Bearer "+testKey)
	req := connect.NewRequest(&pushv1.HistoryRequest{Stream: &pushv1.HistoryRequest_Room{Room: "r"}})
	if _, err := c.History(t.Context(), req); connect.CodeOf(err) != connect.CodeUnimplemented {
		t.Fatalf("without history: %v, want Unimplemented", err)
	}

	h := history.NewMemory(history.Policies{})
	t.Cleanup(func() { _ = h.Close() })
	ts := runServer(t, Config{History: h})
	c = ts.client(protocols[0], "Bearer "+testKey)
	ctx := t.Context()
	// Pushes: the reply names the position core will store them at.
	var positions []*pushv1.StreamPosition
	for range 3 {
		rsp, err := c.PushRoom(ctx, connect.NewRequest(&pushv1.PushRoomRequest{Room: "r", Text: "x"}))
		if err != nil {
			t.Fatal(err)
		}
		positions = append(positions, rsp.Msg.GetPosition())
	}
	var items []history.Item
	for i, m := range ts.pub.published() {
		items = append(items, history.Item{Stream: history.RoomStream("r"), Entry: history.Entry{Offset: uint64(i) + 1, ID: m.ID, Data: m.Data, Accepted: time.Now()}})
	}
	eps, err := h.Append(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range positions {
		if p.GetOffset() != uint64(i)+1 || p.GetEpoch() != eps[history.RoomStream("r")] {
			t.Fatalf("reply %d: position %v, stored in epoch %s at %d", i, p, eps[history.RoomStream("r")], i+1)
		}
	}

	rsp, err := c.History(ctx, connect.NewRequest(&pushv1.HistoryRequest{
		Stream: &pushv1.HistoryRequest_Room{Room: "r"}, Since: positions[0], Limit: 1}))
	if err != nil {
		t.Fatal(err)
	}
	m := rsp.Msg
	if len(m.GetMessages()) != 1 || m.GetMessages()[0].GetPosition().GetOffset() != 2 || !m.GetMore() || m.GetTruncated() || m.GetTop().GetOffset() != 3 {
		t.Fatalf("history since 1, limit 1: %v", m)
	}
	rsp, err = c.History(ctx, connect.NewRequest(&pushv1.HistoryRequest{
		Stream: &pushv1.HistoryRequest_Room{Room: "r"}, Since: &pushv1.StreamPosition{Offset: 1, Epoch: "old"}}))
	if err != nil || !rsp.Msg.GetTruncated() || len(rsp.Msg.GetMessages()) != 3 {
		t.Fatalf("another epoch: %v %v, want truncated with all 3", rsp.Msg, err)
	}

	for name, r := range map[string]*pushv1.HistoryRequest{
		"no stream":   {},
		"empty room":  {Stream: &pushv1.HistoryRequest_Room{}},
		"empty user":  {Stream: &pushv1.HistoryRequest_User{}},
		"limit 1001":  {Stream: &pushv1.HistoryRequest_User{User: "u"}, Limit: 1001},
		"control chr": {Stream: &pushv1.HistoryRequest_Room{Room: "a\x00"}},
	} {
		if _, err := c.History(ctx, connect.NewRequest(r)); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
}
