package namespace

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/quicpush/quicpush/history"
)

// JoinRule says who may join a namespace's rooms with a client's Join.
type JoinRule string

// Join rules. The zero value is JoinToken.
const (
	// JoinToken: rooms the token's rooms claim allows (the default).
	JoinToken JoinRule = ""
	// JoinProxy: the application's backend decides each join (the join
	// hook, docs/proxy.md).
	JoinProxy JoinRule = "proxy"
	// JoinPublic: every authenticated connection.
	JoinPublic JoinRule = "public"
	// JoinServer: no client Join; only the backend puts connections in
	// (the push API's Subscribe).
	JoinServer JoinRule = "server"
)

// Options are one namespace's settings. The zero value is the default of
// every option.
type Options struct {
	// History is what each room keeps for resume and the History method.
	// Zero Size and TTL mean history's defaults (1000 messages, 10 minutes);
	// a negative Size keeps none.
	History history.Policy
	// NoPresence stops listing the rooms' members: Presence answers with
	// counts only. Members are listed by default.
	NoPresence bool
	// ClientPresence lets members ask who is in the room (PresenceGet).
	// Off by default: only backends see presence.
	ClientPresence bool
	// JoinLeave sends members join and leave notices. Off by default.
	JoinLeave bool
	// Join says who may join with a client's Join. Empty means JoinToken.
	Join JoinRule
	// NoEphemeral refuses ephemeral pushes to the rooms. Allowed by default.
	NoEphemeral bool
}

// Namespace is the options of the rooms whose names start with Prefix.
type Namespace struct {
	Prefix string
	Options
}

// Set is the namespaces of a deployment. The zero Set gives every room the
// default options. Its methods may be called on a nil *Set.
type Set struct {
	Namespaces []Namespace
}

// For returns the options of room: those of the namespace with the longest
// prefix of its name, or the zero Options when none matches.
func (s *Set) For(room string) Options {
	if s == nil {
		return Options{}
	}
	best, found := Options{}, -1
	for i := range s.Namespaces {
		ns := &s.Namespaces[i]
		if len(ns.Prefix) > found && strings.HasPrefix(room, ns.Prefix) {
			best, found = ns.Options, len(ns.Prefix)
		}
	}
	return best
}

// Any reports whether some namespace has an option on, so that a process can
// skip work no room asks for.
func (s *Set) Any(on func(Options) bool) bool {
	if s == nil {
		return on(Options{})
	}
	for i := range s.Namespaces {
		if on(s.Namespaces[i].Options) {
			return true
		}
	}
	return on(s.For("\x00no namespace"))
}

// Policies returns the history policies of the namespaces, for history's
// Store; users is the policy of every user's stream.
func (s *Set) Policies(users history.Policy) history.Policies {
	p := history.Policies{Users: users}
	if s == nil {
		return p
	}
	for _, ns := range s.Namespaces {
		if ns.Prefix == "" {
			p.Rooms = ns.History
			continue
		}
		p.Namespaces = append(p.Namespaces, history.Namespace{Prefix: ns.Prefix, Policy: ns.History})
	}
	return p
}

// Add adds ns, replacing a namespace of the same prefix.
func (s *Set) Add(ns Namespace) {
	for i := range s.Namespaces {
		if s.Namespaces[i].Prefix == ns.Prefix {
			s.Namespaces[i] = ns
			return
		}
	}
	s.Namespaces = append(s.Namespaces, ns)
}

// Parse reads one namespace written as PREFIX:KEY=VALUE,KEY=VALUE (the
// --namespace flag). The prefix ends at the last colon before the first '=';
// keys are history (messages kept, -1 for none), history-ttl (a duration),
// presence, client-presence, join-leave and ephemeral (on or off), and join
// (token, proxy, public or server). Keys left out keep their defaults.
func Parse(spec string) (Namespace, error) {
	var ns Namespace
	var head, opts string
	if eq := strings.IndexByte(spec, '='); eq >= 0 {
		colon := strings.LastIndexByte(spec[:eq], ':')
		if colon < 0 {
			return ns, fmt.Errorf("namespace %q: want PREFIX:KEY=VALUE[,KEY=VALUE]", spec)
		}
		head, opts = spec[:colon], spec[colon+1:]
	} else {
		head = strings.TrimSuffix(spec, ":")
	}
	ns.Prefix = head
	if opts == "" {
		return ns, nil
	}
	for kv := range strings.SplitSeq(opts, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return ns, fmt.Errorf("namespace %q: option %q: want KEY=VALUE", ns.Prefix, kv)
		}
		if err := ns.set(k, v); err != nil {
			return ns, fmt.Errorf("namespace %q: %s: %w", ns.Prefix, k, err)
		}
	}
	return ns, nil
}

var errOnOff = errors.New("want on or off")

func onOff(v string) (bool, error) {
	switch v {
	case "on", "true":
		return true, nil
	case "off", "false":
		return false, nil
	}
	return false, errOnOff
}

func (ns *Namespace) set(k, v string) error {
	var err error
	switch k {
	case "history":
		n, perr := strconv.Atoi(v)
		if perr != nil {
			return errors.New("want a number of messages, or -1 for none")
		}
		ns.History.Size = n
	case "history-ttl":
		d, perr := time.ParseDuration(v)
		if perr != nil || d <= 0 {
			return errors.New("want a positive duration such as 5m")
		}
		ns.History.TTL = d
	case "presence":
		var on bool
		on, err = onOff(v)
		ns.NoPresence = !on
	case "client-presence":
		ns.ClientPresence, err = onOff(v)
	case "join-leave":
		ns.JoinLeave, err = onOff(v)
	case "ephemeral":
		var on bool
		on, err = onOff(v)
		ns.NoEphemeral = !on
	case "join":
		switch r := JoinRule(v); r {
		case "token":
			ns.Join = JoinToken
		case JoinProxy, JoinPublic, JoinServer:
			ns.Join = r
		default:
			return errors.New("want token, proxy, public or server")
		}
	default:
		return errors.New("unknown option (history, history-ttl, presence, client-presence, join-leave, join, ephemeral)")
	}
	return err
}

// String writes ns as Parse reads it, with every option.
func (ns Namespace) String() string {
	join := string(ns.Join)
	if join == "" {
		join = "token"
	}
	ttl := "default"
	if ns.History.TTL > 0 {
		ttl = ns.History.TTL.String()
	}
	onoff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	s := fmt.Sprintf("%s:history=%d,presence=%s,client-presence=%s,join-leave=%s,join=%s,ephemeral=%s",
		ns.Prefix, ns.History.Size, onoff(!ns.NoPresence), onoff(ns.ClientPresence), onoff(ns.JoinLeave), join, onoff(!ns.NoEphemeral))
	if ttl != "default" {
		s += ",history-ttl=" + ttl
	}
	return s
}
