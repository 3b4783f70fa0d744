package broker

// SaslHandshake (key 17), v0-v1.
//
//	v0: the mechanism; the SASL tokens then follow as bare frames, without
//	    Kafka request headers (conn.handleRawToken).
//	v1: the tokens follow in SaslAuthenticate requests (KIP-152).
//
// On a SASL listener the mechanism must be one of the listener's
// sasl.enabled.mechanisms, else UNSUPPORTED_SASL_MECHANISM (with the
// enabled ones) and the connection closes. A handshake on an authenticated
// connection starts a re-authentication (KIP-368) with the same mechanism.
// On a PLAINTEXT or SSL listener it is ILLEGAL_SASL_STATE, as in Kafka.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.SASLHandshake, 0, 1, handleSaslHandshake) }

func handleSaslHandshake(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	c := rc.conn
	if c == nil || !c.saslListener() {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return resp
	}
	resp.SupportedMechanisms = c.sec.sasl.Mechanisms
	a := &c.auth
	mech, ok := c.sec.mechs[req.Mechanism]
	switch {
	case a.ex != nil || a.reauth:
		// A handshake in the middle of an exchange.
		resp.ErrorCode = kerr.IllegalSaslState.Code
		rc.closeAfter = true
		c.failAuth(&authError{msg: "unexpected SaslHandshake during SASL authentication"})
		return resp
	case !ok:
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		rc.closeAfter = true
		c.failAuth(&authError{msg: "unsupported SASL mechanism " + req.Mechanism})
		return resp
	case a.authenticated && (req.Version == 0 || req.Mechanism != a.mech):
		resp.ErrorCode = kerr.IllegalSaslState.Code
		rc.closeAfter = true
		c.failAuth(&authError{msg: "re-authentication must use SaslHandshake v1 and the mechanism of the session, " + a.mech})
		return resp
	}
	a.reauth = a.authenticated
	a.mech = req.Mechanism
	a.ex = mech.start(c)
	a.raw = req.Version == 0
	return resp
}
