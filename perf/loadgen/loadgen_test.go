package main

import (
	"encoding/json"
	"testing"
)

func TestStamp(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{`{"test":1,"t":1767225600123456789}`, 1767225600123456789, true},
		{`room-id{"test":1,"t":42,"p":"xx"}`, 42, true},
		{`{"test":1}`, 0, false},
		{`{"t":}`, 0, false},
	} {
		got, ok := stamp([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("stamp(%s) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestPayload(t *testing.T) {
	const ts = 1767225600123456789
	for _, size := range []int{0, 10, 34, 100, 1000} {
		p := &pusher{payload: size}
		b := p.body(7, ts)
		var v struct {
			Test int   `json:"test"`
			T    int64 `json:"t"`
		}
		if err := json.Unmarshal([]byte(b), &v); err != nil || v.Test != 1 || v.T != ts {
			t.Fatalf("payload %d: %s is not the expected JSON (%v)", size, b, err)
		}
		if size > 50 && len(b) != size {
			t.Errorf("payload %d: got %d bytes", size, len(b))
		}
		if got, ok := stamp([]byte(b)); !ok || got != ts {
			t.Errorf("payload %d: stamp %d", size, got)
		}
	}
}
