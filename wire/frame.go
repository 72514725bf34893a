package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Version is the protocol version spoken by this codec. It is sent in Auth and
// matches the QUIC ALPN "quicpush/1" and the WebSocket subprotocol "quicpush.v1".
const Version = 1

// Revision is the protocol's minor revision: compatible additions within
// Version. Revision 2 added stream positions to Auth, AuthOK and JoinOK
// (history and resume); revision 3 the refresh of a live connection's token
// (TokenExpiring, Refresh, RefreshOK); revision 4 ephemeral pushes (Push
// flags) and their delivery in QUIC and WebTransport datagrams; revision 5
// server-side rooms (Subscribed, Unsubscribed, the Joins count in Auth), join
// and leave notices (JoinLeave), presence for clients (PresenceGet,
// PresenceOK) and the edge's revision in AuthOK.
const Revision = 5

// ALPN is the QUIC application protocol of raw quicpush connections.
const ALPN = "quicpush/1"

// WebSocketProtocol is the WebSocket subprotocol of quicpush connections.
const WebSocketProtocol = "quicpush.v1"

// HeaderSize is the size of a frame header: length (4), op (1), seq (4).
const HeaderSize = 9

// lenSize is the size of the length prefix; the length counts every byte after it.
const lenSize = 4

// Limits shared by both ends. A peer may lower them (the edge announces its
// inbound limit in AuthOK) but never needs to accept more.
const (
	// DefaultMaxFrame is the default largest frame, header included, that
	// either side accepts.
	DefaultMaxFrame = 64 << 10
	// MaxRoomLen is the longest room name in bytes.
	MaxRoomLen = 255
	// MaxTokenLen is the longest auth token in bytes.
	MaxTokenLen = 8 << 10
	// MaxAuthFrame is the largest well-formed Auth frame: the header, a
	// 10-byte version, the longest token with its 2-byte length, and the
	// position group (a 10-byte offset, the longest epoch with its length),
	// and the revision-5 count of Joins that follow (10 bytes at most).
	MaxAuthFrame = HeaderSize + 10 + 2 + MaxTokenLen + 10 + 2 + MaxRoomLen + 10
	// MaxInfoLen is the longest member info (revision 5): the JSON object a
	// token's info claim or the connect hook attaches to a connection.
	MaxInfoLen = 1 << 10
)

// Errors returned by the decoders. Every decoding error wraps ErrMalformed or
// ErrTooLarge so a server can choose its disconnect code with errors.Is.
var (
	ErrMalformed = errors.New("wire: malformed frame")
	ErrTooLarge  = errors.New("wire: frame too large")
)

// Header is a decoded frame header.
type Header struct {
	Op  Op
	Seq uint32
	// Len is the body length in bytes.
	Len int
}

// FrameSize returns the size of the whole frame (header and body).
func (h Header) FrameSize() int { return HeaderSize + h.Len }

// AppendHeader appends a frame header for a body of bodyLen bytes.
func AppendHeader(dst []byte, op Op, seq uint32, bodyLen int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(HeaderSize-lenSize+bodyLen))
	dst = append(dst, byte(op))
	return binary.BigEndian.AppendUint32(dst, seq)
}

// AppendFrame appends a whole frame with the given body.
func AppendFrame(dst []byte, op Op, seq uint32, body []byte) []byte {
	dst = AppendHeader(dst, op, seq, len(body))
	return append(dst, body...)
}

// beginFrame appends a header with a zero length and returns the offset where
// the frame starts; endFrame patches the length once the body is written. This
// lets messages encode their body in place without a scratch buffer.
func beginFrame(dst []byte, op Op, seq uint32) ([]byte, int) {
	start := len(dst)
	return AppendHeader(dst, op, seq, 0), start
}

func endFrame(dst []byte, start int) []byte {
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-lenSize))
	return dst
}

// ParseHeader decodes a header from the first HeaderSize bytes of b. It checks
// the length against maxFrame (the whole frame, header included; zero means
// DefaultMaxFrame) but not the op, so that a reader can skip or reject unknown
// ops with a precise error.
func ParseHeader(b []byte, maxFrame int) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: short header (%d bytes)", ErrMalformed, len(b))
	}
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	n := binary.BigEndian.Uint32(b)
	if n < HeaderSize-lenSize {
		return Header{}, fmt.Errorf("%w: length %d below header size", ErrMalformed, n)
	}
	if uint64(n)+lenSize > uint64(maxFrame) {
		return Header{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, uint64(n)+lenSize, maxFrame)
	}
	return Header{
		Op:  Op(b[4]),
		Seq: binary.BigEndian.Uint32(b[5:]),
		Len: int(n) - (HeaderSize - lenSize),
	}, nil
}

// Split returns the first whole frame in b and the bytes after it. ok is false
// when b holds only part of a frame; err is set when the header is invalid.
// It is the building block of message-based transports (one WebSocket message
// may carry several frames) and of the fuzz tests.
func Split(b []byte, maxFrame int) (h Header, body, rest []byte, ok bool, err error) {
	if len(b) < HeaderSize {
		return Header{}, nil, b, false, nil
	}
	h, err = ParseHeader(b, maxFrame)
	if err != nil {
		return Header{}, nil, b, false, err
	}
	if len(b) < h.FrameSize() {
		return h, nil, b, false, nil
	}
	return h, b[HeaderSize:h.FrameSize()], b[h.FrameSize():], true, nil
}

// FrameReader reads frames from a byte stream (QUIC, WebTransport, TCP) with
// no buffer of its own while idle: the header lands in a fixed array and the
// body in a buffer that grows to the largest frame seen and can be dropped with
// Release. It is not safe for concurrent use.
type FrameReader struct {
	r        io.Reader
	maxFrame int
	hdr      [HeaderSize]byte
	buf      []byte
}

// NewFrameReader returns a reader of frames from r that rejects frames larger
// than maxFrame bytes (zero means DefaultMaxFrame).
func NewFrameReader(r io.Reader, maxFrame int) *FrameReader {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	return &FrameReader{r: r, maxFrame: maxFrame}
}

// SetMaxFrame changes the largest frame accepted from the next frame on
// (zero means DefaultMaxFrame): an edge reads Auth with a limit of
// MaxAuthFrame, so that an unauthenticated client cannot make it hold a
// buffer the size of the largest frame.
func (fr *FrameReader) SetMaxFrame(n int) {
	if n <= 0 {
		n = DefaultMaxFrame
	}
	fr.maxFrame = n
}

// ReadFrame reads the next frame. The body is valid until the next call or
// Release. io.EOF means the stream ended cleanly between frames;
// io.ErrUnexpectedEOF means it ended inside one.
func (fr *FrameReader) ReadFrame() (Header, []byte, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return Header{}, nil, err
	}
	h, err := ParseHeader(fr.hdr[:], fr.maxFrame)
	if err != nil {
		return Header{}, nil, err
	}
	if h.Len == 0 {
		return h, nil, nil
	}
	if cap(fr.buf) < h.Len {
		fr.buf = make([]byte, h.Len)
	}
	body := fr.buf[:h.Len]
	if _, err := io.ReadFull(fr.r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Header{}, nil, err
	}
	return h, body, nil
}

// Release drops the body buffer so an idle connection holds no read buffer.
func (fr *FrameReader) Release() { fr.buf = nil }
