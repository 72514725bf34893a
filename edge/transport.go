package edge

import (
	"io"
	"net"
	"sync"
	"time"

	"github.com/quicpush/quicpush/wire"
)

// transport is all a session knows of its connection. Each implementation
// reads whole frames, writes batches of encoded frames in as few writes as the
// medium allows, and closes with a disconnect code that the medium can carry
// (QUIC application error, WebTransport session error, WebSocket close code).
//
// readFrame, setReadDeadline and closeRead are called only by the session's
// reader goroutine; writeBatch and closeWrite only by its flusher; close and
// the deadline setters may be called from any goroutine.
type transport interface {
	// readFrame returns the next frame; the body is valid until the next call.
	readFrame() (wire.Header, []byte, error)
	// writeBatch writes every buffer, in order. It may modify bufs.
	writeBatch(bufs [][]byte) error
	setReadDeadline(t time.Time) error
	setWriteDeadline(t time.Time) error
	// closeWrite ends the server's side after the last frame was written, so
	// that the client reads it before the connection goes away.
	closeWrite(code wire.Code, reason string)
	// close tears the connection down at once.
	close(code wire.Code, reason string)
	// releaseRead drops read buffers while the connection is idle.
	releaseRead()
	// setMaxFrame changes the largest frame read from the next one on.
	setMaxFrame(n int)
	// rawReader reads the bytes under the framing, to discard input while
	// the connection closes.
	rawReader() io.Reader
	kind() string
	remoteAddr() net.Addr
}

// coalescePool holds buffers that gather a batch into one write for media
// where each write is costly on its own (a TLS record, a QUIC stream write).
var coalescePool = sync.Pool{New: func() any { b := make([]byte, 0, coalesceSize); return &b }}

const coalesceSize = 32 << 10

// writeCoalesced writes bufs through w in chunks of up to coalesceSize bytes,
// copying small buffers together and writing large ones directly.
func writeCoalesced(w func([]byte) (int, error), bufs [][]byte) error {
	if len(bufs) == 1 {
		_, err := w(bufs[0])
		return err
	}
	bp := coalescePool.Get().(*[]byte)
	defer coalescePool.Put(bp)
	out := (*bp)[:0]
	for _, b := range bufs {
		if len(out)+len(b) > coalesceSize && len(out) > 0 {
			if _, err := w(out); err != nil {
				return err
			}
			out = out[:0]
		}
		if len(b) >= coalesceSize {
			if _, err := w(b); err != nil {
				return err
			}
			continue
		}
		out = append(out, b...)
	}
	if len(out) > 0 {
		if _, err := w(out); err != nil {
			return err
		}
	}
	return nil
}
