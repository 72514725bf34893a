package quicpush_test

import (
	"context"
	"log"
	"time"

	quicpush "github.com/quicpush/quicpush/clients/go"
)

func Example() {
	fetchToken := func(ctx context.Context) (string, error) {
		return "a JWT from your backend", nil
	}
	c, err := quicpush.New(
		// QUIC first; WebSocket for networks that drop UDP.
		[]string{"quic://push.example.com:4443", "wss://push.example.com/ws"},
		quicpush.WithTokenFunc(fetchToken),
		quicpush.WithOnMessage(func(m quicpush.Message) {
			log.Printf("%s %s: %s", m.Room, m.ID, m.Data)
		}),
		quicpush.WithOnDisconnect(func(e quicpush.DisconnectEvent) {
			log.Printf("disconnected: %v %s (reconnecting: %v)", e.Code, e.Reason, e.Reconnect)
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	if err := c.Join(ctx, "news"); err != nil {
		log.Fatal(err)
	}
}
