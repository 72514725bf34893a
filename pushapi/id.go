package pushapi

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// idLen is the length of a message id.
const idLen = 26

// crockford is Crockford's base32 alphabet; its order matches ASCII order, so
// ids sort as strings the way their bits sort as numbers.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newID returns a message id: a 48-bit Unix millisecond timestamp followed by
// 80 random bits, 128 bits written as 26 characters of Crockford base32 (the
// ULID layout). Ids sort by acceptance time to the millisecond, and 80 random
// bits make a collision within one millisecond negligible without any shared
// state between push API instances.
func newID(now time.Time) string {
	var r [10]byte
	_, _ = rand.Read(r[:]) // never fails since Go 1.24: it crashes the program instead
	// 128 bits, high to low: 48 bits of time, 80 random bits.
	hi := uint64(now.UnixMilli())<<16 | uint64(r[0])<<8 | uint64(r[1])
	lo := binary.BigEndian.Uint64(r[2:])

	// 26 groups of 5 bits; the first character takes the top 3 bits.
	var s [idLen]byte
	for i := idLen - 1; i >= 0; i-- {
		s[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(s[:])
}
