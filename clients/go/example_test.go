package quicpush_test

import (
	"context"
	"encoding/hex"
	"errors"
	"log"
	"os"
	"path/filepath"
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

// Session tickets kept across launches of the app, in a directory of its
// own: the first connect after a launch resumes the edge's TLS session and,
// over QUIC, sends Auth and the rejoins as 0-RTT data.
func ExampleNewPersistentSessionCache() {
	dir := filepath.Join(os.TempDir(), "app-tickets") // an app's private state directory
	_ = os.MkdirAll(dir, 0o700)
	name := func(key string) string { return filepath.Join(dir, hex.EncodeToString([]byte(key))) }
	cache := quicpush.NewPersistentSessionCache(func(key string, ticket []byte) {
		if ticket == nil {
			_ = os.Remove(name(key))
			return
		}
		_ = os.WriteFile(name(key), ticket, 0o600)
	})
	files, _ := os.ReadDir(dir)
	for _, f := range files {
		key, err := hex.DecodeString(f.Name())
		ticket, rerr := os.ReadFile(filepath.Join(dir, f.Name()))
		if err == nil && rerr == nil {
			_ = cache.Load(string(key), ticket) // a stale or damaged one only costs a full handshake
		}
	}
	c, err := quicpush.New([]string{"quic://push.example.com:4443"},
		quicpush.WithToken("a JWT from your backend"),
		quicpush.WithSessionCache(cache))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}

// A chat client whose rooms the backend manages: it joins none itself, hears
// the backend put it in rooms and take it out, hears who comes and goes, and
// asks who is in a room it was put in.
func ExampleWithOnSubscription() {
	rooms := make(chan string, 16)
	c, err := quicpush.New([]string{"quic://push.example.com:4443 wss://push.example.com/ws"},
		quicpush.WithToken("a JWT from your backend"),
		quicpush.WithOnSubscription(func(e quicpush.SubscriptionEvent) {
			if e.Subscribed {
				rooms <- e.Room // Presence must not be called from a handler
			} else {
				log.Printf("removed from %s", e.Room)
			}
		}),
		quicpush.WithOnJoinLeave(func(e quicpush.JoinLeaveEvent) {
			for _, m := range e.Joined {
				log.Printf("%s: %s joined (%s)", e.Room, m.User, m.Info)
			}
			for _, m := range e.Left {
				log.Printf("%s: %s left", e.Room, m.User)
			}
		}),
		quicpush.WithOnMessage(func(m quicpush.Message) {
			log.Printf("%s: %s", m.Room, m.Data)
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
	room := <-rooms
	p, err := c.Presence(ctx, room)
	switch {
	case errors.Is(err, quicpush.ErrUnsupported):
		log.Print("the edge predates presence for clients")
	case err != nil:
		log.Print(err) // *quicpush.Error: not in the room, not allowed, or try again
	default:
		log.Printf("%s: %d users on %d connections, %d listed", room, p.Users, p.Conns, len(p.Members))
	}
}
