package edge

import (
	"fmt"
	"net/url"
	"strings"
)

// AllowOrigins returns a Config.CheckOrigin that accepts the browser origins
// given ("https://app.example.com", or "https://*.example.com" for any
// subdomain; scheme and port must match) and requests without an Origin
// header (native clients send none; tokens, not origins, authenticate them).
// A pattern that is not an origin is an error.
func AllowOrigins(patterns []string) (func(origin string) bool, error) {
	type rule struct {
		scheme, host, port string
		subdomains         bool
	}
	rules := make([]rule, 0, len(patterns))
	for _, p := range patterns {
		u, err := url.Parse(p)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf(`edge: origin %q: want scheme://host[:port], host may start with "*."`, p)
		}
		r := rule{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Hostname()), port: u.Port()}
		if rest, ok := strings.CutPrefix(r.host, "*."); ok {
			r.host, r.subdomains = rest, true
		}
		rules = append(rules, r)
	}
	return func(origin string) bool {
		if origin == "" {
			return true
		}
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" {
			return false
		}
		scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
		for _, r := range rules {
			if r.scheme != scheme || r.port != port {
				continue
			}
			if host == r.host && !r.subdomains {
				return true
			}
			if r.subdomains && strings.HasSuffix(host, "."+r.host) {
				return true
			}
		}
		return false
	}, nil
}
