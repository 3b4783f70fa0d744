package broker

// SaslAuthenticate (key 36), v0-v2.
//
//	v0: the SASL token in, the server's token out (KIP-152).
//	v1: session lifetime (KIP-368): the client re-authenticates before it
//	    ends.
//	v2: flexible.
//
// Each request steps the exchange SaslHandshake started. A failure answers
// SASL_AUTHENTICATION_FAILED with the mechanism's message (after
// connection.failed.authentication.delay.ms) and closes the connection, as
// Kafka does; without a handshake it is ILLEGAL_SASL_STATE, and closes too
// (on a listener without SASL it is ILLEGAL_SASL_STATE and nothing closes).

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.SASLAuthenticate, 0, 2, handleSaslAuthenticate) }

func handleSaslAuthenticate(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	c := rc.conn
	if c == nil || !c.saslListener() {
		// As Kafka's KafkaApis: not an error that closes.
		resp.ErrorCode = kerr.IllegalSaslState.Code
		resp.ErrorMessage = strPtr("SaslAuthenticate request received on a listener without SASL")
		return resp
	}
	if c.auth.ex == nil || c.auth.raw {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		resp.ErrorMessage = strPtr("Unexpected SaslAuthenticate request: no SaslHandshake (v1) before it on this connection")
		rc.closeAfter = true
		c.failAuth(errNoExchange)
		return resp
	}
	ex := c.auth.ex
	reply, done, err := ex.next(req.SASLAuthBytes)
	if err == nil {
		resp.SASLAuthBytes = reply
		if done {
			resp.SessionLifetimeMillis, err = c.completeAuth(ex)
		}
	}
	if err != nil {
		var ae *authError
		if !errors.As(err, &ae) {
			ae = invalidCredentials(c.auth.mech)
		}
		c.failAuth(err)
		c.failAuthDelay()
		resp.SASLAuthBytes = nil
		resp.SessionLifetimeMillis = 0
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = strPtr(ae.msg)
		rc.closeAfter = true
	}
	return resp
}
