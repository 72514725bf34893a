// Package pushpb converts push.Message to and from its protobuf form,
// quicpush.edge.v1.Message: the record value on the Kafka topic and the
// message in core's batches to the edges. Both sides of each hop use these two
// functions, so a field added to push.Message is added here once.
package pushpb

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	edgev1 "github.com/quicpush/quicpush/gen/quicpush/edge/v1"
	"github.com/quicpush/quicpush/internal/push"
)

// ErrInvalid is wrapped by every error FromProto and Unmarshal return.
var ErrInvalid = errors.New("pushpb: invalid message")

var kinds = map[push.Kind]edgev1.Kind{
	push.KindKeys:        edgev1.Kind_KIND_KEYS,
	push.KindUsers:       edgev1.Kind_KIND_USERS,
	push.KindRoom:        edgev1.Kind_KIND_ROOM,
	push.KindBroadcast:   edgev1.Kind_KIND_BROADCAST,
	push.KindDisconnect:  edgev1.Kind_KIND_DISCONNECT,
	push.KindSubscribe:   edgev1.Kind_KIND_SUBSCRIBE,
	push.KindUnsubscribe: edgev1.Kind_KIND_UNSUBSCRIBE,
}

// ToProto converts m. It shares m's slices; the result must not be modified.
func ToProto(m *push.Message) *edgev1.Message {
	pm := &edgev1.Message{
		Id:         m.ID,
		Kind:       kinds[m.Kind],
		Keys:       m.Keys,
		Users:      m.Users,
		Room:       m.Room,
		Data:       m.Data,
		Rate:       uint32(max(m.Rate, 0)),
		Code:       uint32(m.Code),
		Reason:     m.Reason,
		Offset:     m.Offset,
		Epoch:      m.Epoch,
		UserEpochs: m.UserEpochs,
		Ephemeral:  m.Ephemeral,
		// The internal stream to an edge carries the trace context in the
		// message; a Kafka record carries it in a header (Marshal).
		Traceparent: m.TraceParent,
	}
	if !m.Accepted.IsZero() {
		pm.AcceptedUnixNano = m.Accepted.UnixNano()
	}
	return pm
}

// FromProto converts pm, checking what the edges rely on: a known kind and
// the target that kind needs. It shares pm's slices.
func FromProto(pm *edgev1.Message) (*push.Message, error) {
	m := &push.Message{
		ID:          pm.GetId(),
		Keys:        pm.GetKeys(),
		Users:       pm.GetUsers(),
		Room:        pm.GetRoom(),
		Data:        pm.GetData(),
		Rate:        int(pm.GetRate()),
		Reason:      pm.GetReason(),
		Offset:      pm.GetOffset(),
		Epoch:       pm.GetEpoch(),
		UserEpochs:  pm.GetUserEpochs(),
		Ephemeral:   pm.GetEphemeral(),
		TraceParent: pm.GetTraceparent(),
	}
	switch pm.GetKind() {
	case edgev1.Kind_KIND_KEYS:
		m.Kind = push.KindKeys
	case edgev1.Kind_KIND_USERS:
		m.Kind = push.KindUsers
	case edgev1.Kind_KIND_ROOM:
		m.Kind = push.KindRoom
	case edgev1.Kind_KIND_BROADCAST:
		m.Kind = push.KindBroadcast
	case edgev1.Kind_KIND_DISCONNECT:
		m.Kind = push.KindDisconnect
	case edgev1.Kind_KIND_SUBSCRIBE:
		m.Kind = push.KindSubscribe
	case edgev1.Kind_KIND_UNSUBSCRIBE:
		m.Kind = push.KindUnsubscribe
	default:
		return nil, fmt.Errorf("%w: kind %v", ErrInvalid, pm.GetKind())
	}
	if m.ID == "" {
		return nil, fmt.Errorf("%w: no id", ErrInvalid)
	}
	switch {
	case m.Kind == push.KindRoom && m.Room == "":
		return nil, fmt.Errorf("%w: room message without a room", ErrInvalid)
	case m.Kind == push.KindKeys && len(m.Keys) == 0:
		return nil, fmt.Errorf("%w: keys message without keys", ErrInvalid)
	case m.Kind == push.KindUsers && len(m.Users) == 0:
		return nil, fmt.Errorf("%w: users message without users", ErrInvalid)
	case m.Kind == push.KindDisconnect && len(m.Keys)+len(m.Users) == 0:
		return nil, fmt.Errorf("%w: disconnect without keys or users", ErrInvalid)
	case (m.Kind == push.KindSubscribe || m.Kind == push.KindUnsubscribe) && (m.Room == "" || len(m.Keys)+len(m.Users) == 0):
		return nil, fmt.Errorf("%w: %s without a room, or without keys or users", ErrInvalid, m.Kind)
	case pm.GetCode() > 0xffff:
		return nil, fmt.Errorf("%w: code %d", ErrInvalid, pm.GetCode())
	case len(m.UserEpochs) != 0 && len(m.UserEpochs) != len(m.Users):
		return nil, fmt.Errorf("%w: %d user epochs for %d users", ErrInvalid, len(m.UserEpochs), len(m.Users))
	}
	m.Code = uint16(pm.GetCode())
	if ns := pm.GetAcceptedUnixNano(); ns != 0 {
		m.Accepted = time.Unix(0, ns)
	}
	return m, nil
}

// Marshal encodes m as a record value. The trace context is left out: the
// bus puts it in the record's headers, where Kafka tooling looks for it.
func Marshal(m *push.Message) ([]byte, error) {
	pm := ToProto(m)
	pm.Traceparent = ""
	return proto.Marshal(pm)
}

// Unmarshal decodes a record value.
func Unmarshal(b []byte) (*push.Message, error) {
	var pm edgev1.Message
	if err := proto.Unmarshal(b, &pm); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return FromProto(&pm)
}
