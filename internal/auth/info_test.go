package auth

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// The optional info claim: a JSON object of at most MaxInfoLen bytes,
// carried to the identity as the token held it; any other info is ignored,
// never a reason to refuse the token.
func TestVerifyInfo(t *testing.T) {
	v, err := NewVerifier(VerifierConfig{HMACSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	long := `{"x":"` + strings.Repeat("a", MaxInfoLen) + `"}`
	for _, tc := range []struct {
		info string // raw JSON; empty: no claim
		want string
		err  error
	}{
		{"", "", nil},
		{`null`, "", nil},
		{`{"name":"Ann","role":"mod"}`, `{"name":"Ann","role":"mod"}`, nil},
		{`"text"`, "", nil},
		{`[1,2]`, "", nil},
		{long, "", nil},
	} {
		c := NewClaims("alice", []string{"*"}, time.Minute)
		if tc.info != "" {
			c.Info = json.RawMessage(tc.info)
		}
		tok, err := Sign(secret, "", c)
		if err != nil {
			t.Fatal(err)
		}
		id, err := v.Verify(tok)
		if !errors.Is(err, tc.err) || id.Info != tc.want {
			t.Errorf("info %.30s: Info %q, err %v; want %q, %v", tc.info, id.Info, err, tc.want, tc.err)
		}
	}
}
