package main

import "crypto/tls"

// insecureTLS serves `quicpush listen --insecure`, for trying a server
// whose certificate the client cannot check.
func insecureTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true} //nolint:gosec // G402: skipping verification is what --insecure asks for
}
