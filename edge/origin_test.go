package edge

import "testing"

func TestAllowOrigins(t *testing.T) {
	check, err := AllowOrigins([]string{"https://app.example.com", "https://*.example.org", "http://localhost:8080"})
	if err != nil {
		t.Fatal(err)
	}
	for origin, want := range map[string]bool{
		"":                             true, // native clients send none
		"https://app.example.com":      true,
		"https://APP.example.com":      true,
		"http://app.example.com":       false, // scheme
		"https://app.example.com:8443": false, // port
		"https://evil.com":             false,
		"https://app.example.com.evil": false,
		"https://a.example.org":        true,
		"https://a.b.example.org":      true,
		"https://example.org":          false, // *. means a subdomain
		"https://badexample.org":       false,
		"http://localhost:8080":        true,
		"null":                         false,
		"not a url":                    false,
	} {
		if got := check(origin); got != want {
			t.Errorf("%q: %v, want %v", origin, got, want)
		}
	}
	for _, bad := range []string{"example.com", "https://", "https://a.com/path", "https://u@a.com", "://x"} {
		if _, err := AllowOrigins([]string{bad}); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}
