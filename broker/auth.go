package broker

// Authentication of a connection: the listener's security (PLAINTEXT, SSL,
// SASL_PLAINTEXT, SASL_SSL), the TLS handshake and client-certificate
// principal, the SASL state between SaslHandshake and SaslAuthenticate
// (sasl.go), re-authentication (KIP-368) and what a connection may do
// before it has authenticated.
//
// Before a SASL connection has authenticated it may send ApiVersions,
// SaslHandshake and SaslAuthenticate only, in frames of at most
// sasl.server.max.receive.size bytes, read through a small buffer; anything
// else closes it (Kafka: "Unexpected Kafka request of type ... during SASL
// handshake"). A failed authentication is answered with
// SASL_AUTHENTICATION_FAILED and a message after
// connection.failed.authentication.delay.ms, and the connection is closed.
// The log lines about refused and failed connections are rate-limited
// (authLog): one line per reason and interval, counting the others.
//
// A session with a lifetime (connections.max.reauth.ms, or the expiry of an
// OAUTHBEARER token) must re-authenticate before it ends: a request that
// arrives after its end closes the connection, as Kafka's
// serverAuthenticationSessionExpired does.

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/broker/config"
)

// Principals of connections that did not authenticate (Kafka's
// KafkaPrincipal.ANONYMOUS).
const anonymousPrincipal = "User:ANONYMOUS"

// listenerSec is a listener's security, built at start-up.
type listenerSec struct {
	name     string
	protocol string
	tls      *tls.Config // SSL, SASL_SSL
	rules    *config.PrincipalRules
	sasl     *config.SASLSettings     // SASL_*
	mechs    map[string]saslMechanism // SASL_*: the enabled mechanisms
}

// buildListenerSecurity makes the listeners' TLS configurations and SASL
// mechanisms (reading key stores and JAAS users); any failure refuses the
// start.
func (b *Broker) buildListenerSecurity() error {
	b.secs = make(map[string]*listenerSec, len(b.cfg.Listeners))
	var errs []error
	for _, l := range b.cfg.Listeners {
		ls := b.cfg.Security[l.Name]
		if ls == nil || ls.Protocol == "PLAINTEXT" || ls.Protocol == "" {
			continue
		}
		s := &listenerSec{name: l.Name, protocol: ls.Protocol}
		if ls.TLS != nil {
			cfg, err := serverTLSConfig(l.Name, ls.TLS)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			s.tls, s.rules = cfg, ls.TLS.PrincipalRules
		}
		if ls.SASL != nil {
			s.sasl = ls.SASL
			s.mechs = map[string]saslMechanism{}
			for _, m := range ls.SASL.Mechanisms {
				mech, err := b.newMechanism(l.Name, m, ls.SASL.Mechanism[m])
				if err != nil {
					errs = append(errs, fmt.Errorf("broker: listener %s: %s: %w", l.Name, m, err))
					continue
				}
				s.mechs[m] = mech
			}
		}
		b.secs[l.Name] = s
	}
	ia, err := b.interBrokerAuth()
	if err != nil {
		// Only replication needs it: a lone broker serves without.
		b.log.Warn().Err(err).Str("listener", b.cfg.InterBrokerListener).Msg("replica fetchers cannot authenticate to other brokers")
	}
	b.interAuth = ia
	return errors.Join(errs...)
}

// connAuth is a connection's authentication state; read loop only.
type connAuth struct {
	principal string
	// authenticated: a SASL connection completed SaslAuthenticate (always
	// true on other listeners).
	authenticated bool
	// mech and ex: the mechanism chosen by SaslHandshake and its exchange
	// in progress (nil once done or before a handshake).
	mech string
	ex   saslExchange
	// raw: SaslHandshake v0 was used, so the tokens come as bare frames
	// without request headers.
	raw bool
	// reauth: a re-authentication is in progress (KIP-368).
	reauth bool
	// expiry ends the session (zero: none).
	expiry time.Time
}

// saslListener reports whether c came through a SASL listener.
func (c *conn) saslListener() bool { return c.sec != nil && c.sec.sasl != nil }

// tlsHandshakeTimeout bounds a TLS handshake.
const tlsHandshakeTimeout = 10 * time.Second

// handshakeTLS runs the TLS handshake of a TLS listener's connection and
// takes the principal from the client certificate (SSL listeners; on
// SASL_SSL the SASL identity is the principal). It returns false when the
// connection must be closed.
func (c *conn) handshakeTLS() bool {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return true
	}
	tc.SetDeadline(time.Now().Add(tlsHandshakeTimeout))
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.b.authLog.log(c.log.Warn(), "tls_handshake", func(e *zerolog.Event) {
			e.Err(err).Str("listener", c.listener).Msg("closing connection: TLS handshake failed")
		})
		return false
	}
	tc.SetDeadline(time.Time{})
	if c.saslListener() {
		return true
	}
	cs := tc.ConnectionState()
	if len(cs.PeerCertificates) == 0 {
		c.auth.principal = anonymousPrincipal
		return true
	}
	name, err := certPrincipal(cs.PeerCertificates[0], c.sec.rules)
	if err != nil {
		c.b.authLog.log(c.log.Warn(), "principal_mapping", func(e *zerolog.Event) {
			e.Err(err).Str("listener", c.listener).Msg("closing connection: the client certificate maps to no principal")
		})
		return false
	}
	c.auth.principal = "User:" + name
	return true
}

// preAuthAllowed reports whether a request of key may be served on c now,
// logging (rate-limited) why not.
func (c *conn) preAuthAllowed(key int16, clientID string) bool {
	if !c.saslListener() {
		return true
	}
	a := &c.auth
	saslKey := key == kmsg.SASLHandshake.Int16() || key == kmsg.SASLAuthenticate.Int16()
	if a.authenticated && !a.reauth {
		if !a.expiry.IsZero() && time.Now().After(a.expiry) {
			c.b.authLog.log(c.log.Info(), "session_expired", func(e *zerolog.Event) {
				e.Str("principal", a.principal).Str("client_id", clientID).Msg("closing connection: its SASL session expired without re-authentication (connections.max.reauth.ms)")
			})
			return false
		}
		return true
	}
	if saslKey || key == kmsg.ApiVersions.Int16() && !a.reauth {
		return true
	}
	c.b.authLog.log(c.log.Warn(), "unauthenticated_request", func(e *zerolog.Event) {
		e.Str("api", kmsg.NameForKey(key)).Str("client_id", clientID).Str("listener", c.listener).
			Msg("closing connection: request before SASL authentication (only ApiVersions, SaslHandshake and SaslAuthenticate are allowed)")
	})
	return false
}

// maxFrame is the largest request frame c accepts now.
func (c *conn) maxFrame(configured int32) int32 {
	if c.saslListener() && !c.auth.authenticated {
		return min(configured, c.sec.sasl.MaxReceiveSize)
	}
	return configured
}

// failAuthDelay waits connection.failed.authentication.delay.ms before a
// failed authentication is answered (Kafka delays it to slow down
// password guessing). False when the broker is closing.
func (c *conn) failAuthDelay() bool {
	d := time.Duration(c.b.cfg.Int64("connection.failed.authentication.delay.ms")) * time.Millisecond
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// principal is the connection's principal, "User:ANONYMOUS" for a
// PLAINTEXT connection (or a request without one: tests).
func (rc *reqCtx) principal() string {
	if rc == nil || rc.conn == nil || rc.conn.auth.principal == "" {
		return anonymousPrincipal
	}
	return rc.conn.auth.principal
}

// aclHost is the client's address as ACL hosts name it.
func (rc *reqCtx) aclHost() string {
	if rc == nil || rc.conn == nil || !rc.conn.ip.IsValid() {
		return ""
	}
	return rc.conn.ip.String()
}

// rateLog writes at most one line per reason and interval, counting the
// events it did not log.
type rateLog struct {
	mu    sync.Mutex
	every time.Duration
	seen  map[string]*rateLogEntry // guarded by mu
}

type rateLogEntry struct {
	last       time.Time
	suppressed int
}

// authLogEvery is the interval of the rate-limited authentication lines.
const authLogEvery = 10 * time.Second

func newRateLog(every time.Duration) *rateLog {
	return &rateLog{every: every, seen: map[string]*rateLogEntry{}}
}

// log writes the line built by fill on ev, unless a line of reason was
// written less than an interval ago.
func (r *rateLog) log(ev *zerolog.Event, reason string, fill func(*zerolog.Event)) {
	if ev == nil {
		return
	}
	r.mu.Lock()
	e := r.seen[reason]
	if e == nil {
		e = &rateLogEntry{}
		r.seen[reason] = e
	}
	now := time.Now()
	if !e.last.IsZero() && now.Sub(e.last) < r.every {
		e.suppressed++
		r.mu.Unlock()
		ev.Discard()
		return
	}
	n := e.suppressed
	e.last, e.suppressed = now, 0
	r.mu.Unlock()
	if n > 0 {
		ev = ev.Int("suppressed_since_last_line", n).Dur("log_interval", r.every)
	}
	fill(ev)
}

// closeQuietly closes a raw connection (no TLS close_notify, which could
// block on a peer that does not read).
func closeQuietly(nc net.Conn) { nc.Close() }
