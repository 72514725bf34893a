package frameconn

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/quic-go/webtransport-go"

	"github.com/quicpush/quicpush/wire"
)

// DialWebTransport opens a WebTransport session at rawURL (https://host:port/wt)
// on a QUIC connection of its own and one bidirectional stream in it, the
// transport browsers use. A status other than 2xx fails the dial.
func DialWebTransport(ctx context.Context, rawURL string, o Options) (*Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("frameconn: %w", err)
	}
	qconf := &quic.Config{}
	if o.QUICConfig != nil {
		qconf = o.QUICConfig.Clone()
	}
	qconf.EnableDatagrams = true
	qconf.EnableStreamResetPartialDelivery = true
	d := &webtransport.Transport{
		TLSClientConfig: o.tlsFor(u.Hostname(), http3.NextProtoH3),
		QUICConfig:      qconf,
	}
	if tr := o.QUICTransport; tr != nil {
		d.DialAddr = func(ctx context.Context, addr string, tlsConf *tls.Config, conf *quic.Config) (*quic.Conn, error) {
			ua, err := net.ResolveUDPAddr("udp", addr)
			if err != nil {
				return nil, err
			}
			return tr.DialEarly(ctx, ua, tlsConf, conf)
		}
	}
	// Close only stops session establishment; the session outlives it.
	defer d.Close()
	_, sess, err := d.Dial(ctx, rawURL, nil)
	if err != nil {
		return nil, err
	}
	str, err := sess.OpenStreamSync(ctx)
	if err != nil {
		_ = sess.CloseWithError(0, "")
		return nil, err
	}
	c := newConn(TransportWebTransport, str, wtEnder{sess}, &o, o.readBuffer(0))
	c.wtSess = sess
	return c, nil
}

// wtEnder closes a WebTransport session; webtransport-go then closes the QUIC
// connection it dialled for it.
type wtEnder struct{ sess *webtransport.Session }

func (e wtEnder) close(code wire.Code, reason string) error {
	return e.sess.CloseWithError(webtransport.SessionErrorCode(code), reason)
}

func (wtEnder) err(err error) error { return webTransportError(err) }
