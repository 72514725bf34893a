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
		// One edge: QUIC first, WebSocket for networks that drop UDP.
		[]string{"quic://push.example.com:4443 wss://push.example.com/ws"},
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

// A client of a cluster of three edges, each reachable over QUIC or, where
// UDP is blocked, framed TCP. It connects to the first edge that answers and,
// when that edge drains or dies, moves to the next one and rejoins its rooms.
func ExampleNew_cluster() {
	c, err := quicpush.New(
		[]string{
			"quic://10.0.0.1:4433 tcp://10.0.0.1:4434",
			"quic://10.0.0.2:4433 tcp://10.0.0.2:4434",
			"quic://10.0.0.3:4433 tcp://10.0.0.3:4434",
		},
		quicpush.WithToken("a JWT from your backend"),
		quicpush.WithOnConnect(func(e quicpush.ConnectEvent) {
			log.Printf("connected to %s as %s", e.Endpoint, e.ConnKey)
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
