// Command proxybackend is a sample application backend for quicpush's proxy
// hooks (docs/proxy.md): it answers the connect hook from an in-memory table
// of session ids and the join hook from a table of room memberships.
//
//	go run ./examples/proxybackend -addr 127.0.0.1:9090 -api-key hook-key
//	quicpush serve --proxy-connect-url http://127.0.0.1:9090/connect \
//	  --proxy-join-url http://127.0.0.1:9090/join --proxy-join-rooms 'team:*' \
//	  --proxy-header X-Api-Key=hook-key
//
// A client whose Auth token is "sess-alice" is then user alice, may join
// "news" and "lobby:*" (the rooms the connect hook grants) and, through the
// join hook, the team rooms she is a member of.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"time"
)

// user is one row of the in-memory user table.
type user struct {
	ID    string
	Name  string
	Rooms []string // granted at connect, in the token's pattern language
	Teams []string // team:NAME rooms the join hook allows
	// Banned users are refused at connect (3504: do not reconnect).
	Banned bool
}

// users are keyed by session id: the credentials the client sends as its
// Auth token instead of a JWT.
var users = map[string]user{
	"sess-alice": {ID: "alice", Name: "Alice", Rooms: []string{"news", "lobby:*"}, Teams: []string{"team:red"}},
	"sess-bob":   {ID: "bob", Name: "Bob", Rooms: []string{"news"}, Teams: []string{"team:blue"}},
	"sess-eve":   {ID: "eve", Name: "Eve", Banned: true},
}

// connectRequest and joinRequest are what the edge sends.
type connectRequest struct {
	Token     string `json:"token"`
	User      string `json:"user"` // set when the client had a verified JWT
	IP        string `json:"ip"`
	Transport string `json:"transport"`
	Edge      string `json:"edge"`
}

type joinRequest struct {
	User    string          `json:"user"`
	ConnKey string          `json:"conn_key"`
	Room    string          `json:"room"`
	Info    json.RawMessage `json:"info"`
}

type disconnect struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// handler serves both hooks; apiKey, when set, must come in X-Api-Key.
func handler(apiKey string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /connect", func(w http.ResponseWriter, r *http.Request) {
		var req connectRequest
		if !decode(w, r, apiKey, &req) {
			return
		}
		u, ok := users[req.Token]
		switch {
		case req.User != "":
			// A verified JWT (--proxy-connect-mode always): add a room.
			reply(w, map[string]any{"result": map[string]any{"rooms": []string{"news"}}})
		case !ok:
			reply(w, map[string]any{"disconnect": disconnect{3500, "unknown session"}})
		case u.Banned:
			reply(w, map[string]any{"disconnect": disconnect{3504, "banned"}})
		default:
			log.Printf("connect: %s over %s from %s on edge %s", u.ID, req.Transport, req.IP, req.Edge)
			reply(w, map[string]any{"result": map[string]any{
				"user":      u.ID,
				"expire_at": time.Now().Add(time.Hour).Unix(),
				"rooms":     u.Rooms,
				"info":      map[string]string{"name": u.Name},
			}})
		}
	})
	mux.HandleFunc("POST /join", func(w http.ResponseWriter, r *http.Request) {
		var req joinRequest
		if !decode(w, r, apiKey, &req) {
			return
		}
		for _, u := range users {
			if u.ID != req.User {
				continue
			}
			for _, t := range u.Teams {
				if t == req.Room {
					reply(w, map[string]any{"result": map[string]any{}})
					return
				}
			}
		}
		reply(w, map[string]any{"error": map[string]string{"message": "not a member of " + req.Room}})
	})
	return mux
}

func decode(w http.ResponseWriter, r *http.Request, apiKey string, v any) bool {
	if apiKey != "" && r.Header.Get("X-Api-Key") != apiKey {
		http.Error(w, "bad api key", http.StatusUnauthorized)
		return false
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(v); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9090", "listen address")
	apiKey := flag.String("api-key", "", "require this X-Api-Key header (quicpush serve --proxy-header X-Api-Key=...)")
	flag.Parse()
	log.Printf("proxy backend on http://%s (connect: /connect, join: /join)", *addr)
	srv := &http.Server{Addr: *addr, Handler: handler(*apiKey), ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
