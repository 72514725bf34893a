package main

import (
	"context"
	"errors"
	"net"
	"strconv"

	"github.com/quicpush/quicpush/internal/frameconn"
)

// dialWS dials connection i to edge first+i mod len(addrs), speaking
// quicpush over WebSocket: each binary message from the edge holds one or
// more whole frames, read as they arrive without buffering the message.
func dialWS(addrs []string, first int, src []net.IP) func(ctx context.Context, i int) (link, error) {
	dial := tcpDialer(src)
	return func(ctx context.Context, i int) (link, error) {
		addr := edgeFor(addrs, first, i)
		return linked(frameconn.DialWebSocket(ctx, "ws://"+addr+"/ws", streamOptions(dial, i)))
	}
}

// wsEnd names the end of a WebSocket: the code of the edge's close frame,
// or how the stream ended.
func wsEnd(err error) string {
	var ce *frameconn.CloseError
	if errors.As(err, &ce) {
		return "websocket close " + strconv.FormatUint(ce.Code, 10)
	}
	return streamEnd(err)
}
