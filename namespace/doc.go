// Package namespace holds the per-namespace options of rooms: one
// configuration object, keyed by room-name prefix, that every process reads
// (core for history, the push API for what a push may be, the edges for
// presence, join and leave notices and who may join).
//
// A room belongs to the namespace with the longest prefix its name starts
// with; a room no namespace matches gets the options of the namespace with the
// empty prefix, or the zero Options, which are the documented defaults.
// docs/namespaces.md describes every option.
package namespace
