package broker

// The inter-broker connections' side of security: a replica fetcher that
// dials a TLS inter-broker listener verifies it with that listener's trust
// store (and presents its key store, for a listener that requires client
// certificates), and on a SASL listener it authenticates with
// sasl.mechanism.inter.broker.protocol and the username and password of
// that mechanism's JAAS config, as Kafka's brokers do (for OAUTHBEARER, an
// unsecured token for unsecuredLoginStringClaim_sub).

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/samsa-io/samsa/broker/config"
)

// interBrokerAuth is how this broker's fetchers authenticate to others;
// nil for a PLAINTEXT inter-broker listener.
type interBrokerAuth struct {
	tls  *config.TLSSettings
	mech sasl.Mechanism
}

// interBrokerAuth builds it from the inter-broker listener's settings.
func (b *Broker) interBrokerAuth() (*interBrokerAuth, error) {
	ls := b.cfg.Security[b.cfg.InterBrokerListener]
	if ls == nil || (ls.TLS == nil && ls.SASL == nil) {
		return nil, nil
	}
	a := &interBrokerAuth{tls: ls.TLS}
	if ls.SASL == nil {
		return a, nil
	}
	name := strings.ToUpper(b.cfg.Str("sasl.mechanism.inter.broker.protocol"))
	ms := ls.SASL.Mechanism[name]
	var opt map[string]string
	if ms != nil && ms.JAAS != nil {
		opt = ms.JAAS.Options
	}
	user, pass := opt["username"], opt["password"]
	switch name {
	case config.MechPlain, config.MechScramSHA256, config.MechScramSHA512:
		if user == "" || pass == "" {
			return nil, fmt.Errorf("inter-broker listener %s uses %s: its JAAS config (listener.name.%s.%s.sasl.jaas.config) needs username and password for this broker's own connections",
				ls.Name, name, strings.ToLower(ls.Name), strings.ToLower(name))
		}
	}
	switch name {
	case config.MechPlain:
		a.mech = plain.Auth{User: user, Pass: pass}.AsMechanism()
	case config.MechScramSHA256:
		a.mech = scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	case config.MechScramSHA512:
		a.mech = scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
	case config.MechOAuthBearer:
		sub := opt["unsecuredLoginStringClaim_sub"]
		if sub == "" {
			return nil, fmt.Errorf("inter-broker listener %s uses OAUTHBEARER: samsa's brokers log in with an unsecured token, which needs unsecuredLoginStringClaim_sub in the JAAS config", ls.Name)
		}
		a.mech = oauth.Oauth(func(context.Context) (oauth.Auth, error) {
			hdr, _ := json.Marshal(map[string]string{"alg": "none"})
			claims, _ := json.Marshal(map[string]any{"sub": sub, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
			return oauth.Auth{Token: base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(claims) + "."}, nil
		})
	default:
		return nil, fmt.Errorf("inter-broker mechanism %s is not supported", name)
	}
	return a, nil
}

// secure wraps nc in TLS when the listener needs it.
func (a *interBrokerAuth) secure(ctx context.Context, nc net.Conn, addr string) (net.Conn, error) {
	if a == nil || a.tls == nil {
		return nc, nil
	}
	host, _, _ := net.SplitHostPort(addr)
	cfg, err := clientTLSConfig(a.tls, host)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("broker: TLS handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// authenticate runs SaslHandshake v1 and SaslAuthenticate on c.
func (a *interBrokerAuth) authenticate(ctx context.Context, c *brokerConn, addr string, timeout time.Duration) error {
	if a == nil || a.mech == nil {
		return nil
	}
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, a.mech.Name()
	resp, err := c.request(ctx, hs, timeout)
	if err != nil {
		return err
	}
	if err := kerr.ErrorForCode(resp.(*kmsg.SASLHandshakeResponse).ErrorCode); err != nil {
		return fmt.Errorf("broker: SaslHandshake with %s: %w", addr, err)
	}
	host, _, _ := net.SplitHostPort(addr)
	sess, msg, err := a.mech.Authenticate(ctx, host)
	if err != nil {
		return err
	}
	for range 10 {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.Version, req.SASLAuthBytes = 1, msg
		resp, err := c.request(ctx, req, timeout)
		if err != nil {
			return err
		}
		ar := resp.(*kmsg.SASLAuthenticateResponse)
		if err := kerr.ErrorForCode(ar.ErrorCode); err != nil {
			m := ""
			if ar.ErrorMessage != nil {
				m = ": " + *ar.ErrorMessage
			}
			return fmt.Errorf("broker: authenticating to %s: %w%s", addr, err, m)
		}
		done, next, err := sess.Challenge(ar.SASLAuthBytes)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		msg = next
	}
	return errors.New("broker: SASL exchange did not finish")
}
