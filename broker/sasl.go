package broker

// SASL: the mechanisms (sasl_plain.go, sasl_scram.go, sasl_oauth.go) and
// the exchange that SaslHandshake starts and SaslAuthenticate steps
// (17_sasl_handshake.go, 36_sasl_authenticate.go), or, after a v0
// handshake, bare token frames (handleRawToken).

import (
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/samsa-io/samsa/broker/config"
)

// saslMechanism is one enabled mechanism of a listener.
type saslMechanism interface {
	// start begins an exchange.
	start(c *conn) saslExchange
	// reauthMs is connections.max.reauth.ms for the mechanism.
	reauthMs() int64
}

// saslExchange is one authentication in progress.
type saslExchange interface {
	// next consumes a client message and returns the server's reply and
	// whether the authentication is complete. An *authError fails it.
	next(msg []byte) (reply []byte, done bool, err error)
	// user is the authenticated name, once done.
	user() string
	// expiry is when the credential expires (an OAUTHBEARER token's exp),
	// zero when it does not.
	expiry() time.Time
}

// authError is a failed authentication; msg is what the client is told
// (SaslAuthenticate's error message).
type authError struct {
	msg    string
	reason string // for the log only (why the credentials were invalid)
}

func (e *authError) Error() string {
	if e.reason != "" {
		return e.msg + " (" + e.reason + ")"
	}
	return e.msg
}

// invalidCredentials is Kafka's message for a SaslException: it does not
// say whether the user or the password was wrong.
func invalidCredentials(mech string) *authError {
	return &authError{msg: "Authentication failed during authentication due to invalid credentials with SASL mechanism " + mech}
}

// because is invalidCredentials with the reason the log shows.
func (e *authError) because(reason string) *authError { return &authError{msg: e.msg, reason: reason} }

func (b *Broker) newMechanism(listener, name string, ms *config.MechanismSettings) (saslMechanism, error) {
	switch name {
	case config.MechPlain:
		return newPlainMechanism(ms)
	case config.MechScramSHA256, config.MechScramSHA512:
		return &scramMechanism{b: b, name: name, reauth: ms.ReauthMs}, nil
	case config.MechOAuthBearer:
		return newOAuthMechanism(b, ms)
	}
	return nil, fmt.Errorf("mechanism %s is not supported", name)
}

// completeAuth records a successful authentication (or re-authentication)
// on the connection and returns the session lifetime in ms for
// SaslAuthenticate v1+ (0: none), or an *authError when a re-authentication
// changed the principal.
func (c *conn) completeAuth(ex saslExchange) (int64, error) {
	a := &c.auth
	principal := "User:" + ex.user()
	if a.reauth && principal != a.principal {
		return 0, &authError{msg: fmt.Sprintf("Cannot change principals during re-authentication from %s: %s", a.principal, principal)}
	}
	now := time.Now()
	var lifetime int64
	reauth := c.sec.mechs[a.mech].reauthMs()
	exp := ex.expiry()
	switch {
	case !exp.IsZero() && reauth > 0:
		lifetime = max(0, min(exp.Sub(now).Milliseconds(), reauth))
	case !exp.IsZero():
		lifetime = max(0, exp.Sub(now).Milliseconds())
	case reauth > 0:
		lifetime = reauth
	}
	a.expiry = time.Time{}
	if lifetime > 0 || !exp.IsZero() {
		a.expiry = now.Add(time.Duration(lifetime) * time.Millisecond)
	}
	wasAuthenticated := a.authenticated
	a.principal, a.authenticated, a.reauth, a.ex = principal, true, false, nil
	if !wasAuthenticated {
		c.growBuffers()
	}
	c.log.Debug().Str("principal", principal).Str("mechanism", a.mech).Int64("session_lifetime_ms", lifetime).Msg("authenticated")
	return lifetime, nil
}

// failAuth logs a failed authentication (rate-limited).
func (c *conn) failAuth(err error) {
	c.b.authLog.log(c.log.Warn(), "auth_failed", func(e *zerolog.Event) {
		e.Str("mechanism", c.auth.mech).Str("listener", c.listener).Str("reason", err.Error()).
			Msg("closing connection: SASL authentication failed")
	})
}

// handleRawToken serves one bare SASL token frame (after SaslHandshake v0)
// and answers with a bare token. False closes the connection: a failure
// cannot be told to the client in this framing.
func (c *conn) handleRawToken(frame []byte) bool {
	a := &c.auth
	if a.ex == nil {
		return false
	}
	reply, done, err := a.ex.next(frame)
	if err == nil && done {
		_, err = c.completeAuth(a.ex)
		a.raw = false
	}
	if err != nil {
		c.failAuth(err)
		c.failAuthDelay()
		return false
	}
	rb := respBufPool.Get().(*respBuf)
	rb.buf = append(rb.buf[:0], byte(len(reply)>>24), byte(len(reply)>>16), byte(len(reply)>>8), byte(len(reply)))
	rb.buf, rb.vec = append(rb.buf, reply...), rb.vec[:0]
	c.queue(outFrame{rb: rb})
	return true
}

var errNoExchange = errors.New("no SASL handshake before SaslAuthenticate")
