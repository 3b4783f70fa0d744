package broker

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/samsa-io/samsa/broker/config"
)

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// unsecuredJWS is a token Kafka's unsecured validator accepts.
func unsecuredJWS(claims map[string]any) string {
	return b64(map[string]string{"alg": "none"}) + "." + b64(claims) + "."
}

// signedJWT signs claims with RS256.
func signedJWT(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	in := b64(map[string]string{"alg": "RS256", "kid": kid, "typ": "JWT"}) + "." + b64(claims)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestOAuthBearer: OAUTHBEARER with unsecured tokens (the default
// validator) and with signed tokens checked against a JWKS served by the
// test over HTTP, with issuer and audience checks; expired, unsigned,
// badly signed and wrong-audience tokens are refused with
// SASL_AUTHENTICATION_FAILED.
func TestOAuthBearer(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}})
	var hits sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.URL.Path, true)
		w.Write(jwks)
	}))
	defer srv.Close()

	b, _ := startTestBroker(t,
		"listeners=UNSECURED://127.0.0.1:0,SECURED://127.0.0.1:0",
		"listener.security.protocol.map=UNSECURED:SASL_PLAINTEXT,SECURED:SASL_PLAINTEXT",
		"inter.broker.listener.name=UNSECURED",
		"sasl.enabled.mechanisms=OAUTHBEARER", "sasl.mechanism.inter.broker.protocol=OAUTHBEARER",
		"listener.name.secured.oauthbearer.sasl.server.callback.handler.class="+config.OAuthBearerValidatorHandler,
		"listener.name.secured.oauthbearer.sasl.oauthbearer.jwks.endpoint.url="+srv.URL+"/jwks",
		"sasl.oauthbearer.expected.audience=kafka,other",
		"sasl.oauthbearer.expected.issuer=https://issuer.test",
	)
	if _, ok := hits.Load("/jwks"); !ok {
		t.Fatal("the JWKS was not read at start-up")
	}
	unsecured, secured := b.Addrs()[0].String(), b.Addrs()[1].String()
	now := time.Now().Unix()
	tok := func(s string) kgo.Opt { return kgo.SASL(oauth.Auth{Token: s}.AsMechanism()) }

	good := secClient(t, unsecured, tok(unsecuredJWS(map[string]any{"sub": "alice", "exp": now + 600, "iat": now})), kgo.AllowAutoTopicCreation())
	roundTrip(t, unsecured, good, "oauth-unsecured", 3, 100, tok(unsecuredJWS(map[string]any{"sub": "alice", "exp": now + 600})))
	claims := map[string]any{"sub": "bob", "exp": now + 600, "iat": now, "iss": "https://issuer.test", "aud": []string{"kafka"}}
	good = secClient(t, secured, tok(signedJWT(t, key, "k1", claims)), kgo.AllowAutoTopicCreation())
	roundTrip(t, secured, good, "oauth-jwks", 3, 100, tok(signedJWT(t, key, "k1", claims)))

	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for a, b := range claims {
			c[a] = b
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	for _, tc := range []struct {
		name, addr, token, msg string
	}{
		{"unsecured expired", unsecured, unsecuredJWS(map[string]any{"sub": "alice", "exp": now - 60}), "expired"},
		{"unsecured without sub", unsecured, unsecuredJWS(map[string]any{"exp": now + 60}), "no sub claim"},
		{"signed token on the unsecured listener", unsecured, signedJWT(t, key, "k1", claims), "alg none"},
		{"unsigned token on the JWKS listener", secured, unsecuredJWS(claims), "not allowed"},
		{"wrong key", secured, signedJWT(t, other, "k1", claims), "signature does not verify"},
		{"unknown kid", secured, signedJWT(t, key, "k9", claims), "no key with kid"},
		{"wrong audience", secured, signedJWT(t, key, "k1", with("aud", "elsewhere")), "audience"},
		{"wrong issuer", secured, signedJWT(t, key, "k1", with("iss", "https://evil.test")), "issuer"},
		{"expired", secured, signedJWT(t, key, "k1", with("exp", now-3600)), "expired"},
		{"not a JWT", secured, "garbage", "compact serialization"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := secClient(t, tc.addr, tok(tc.token)).Ping(context.Background())
			if !errors.Is(err, kerr.SaslAuthenticationFailed) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want SASL_AUTHENTICATION_FAILED mentioning %q", err, tc.msg)
			}
		})
	}
}

// saslConn is a raw connection to a SASL listener that speaks requests by
// hand.
type saslConn struct {
	t    *testing.T
	c    net.Conn
	f    *kmsg.RequestFormatter
	corr int32
}

func dialSASL(t *testing.T, addr string) *saslConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &saslConn{t: t, c: c, f: kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw"))}
}

// request sends req and decodes the answer; an error when the broker
// closed the connection instead.
func (s *saslConn) request(req kmsg.Request) (kmsg.Response, error) {
	s.corr++
	s.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.c.Write(s.f.AppendRequest(nil, req, s.corr)); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(s.c, size[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(s.c, buf); err != nil {
		return nil, err
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	body := buf[4:]
	if resp.IsFlexible() {
		body = body[1:]
	}
	return resp, resp.ReadFrom(body)
}

// closed reports whether the broker closed the connection (EOF within the
// deadline).
func (s *saslConn) closed() bool {
	s.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := s.c.Read(make([]byte, 1))
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool { return err != nil && strings.Contains(err.Error(), "reset") }

func (s *saslConn) handshake(v int16, mech string) *kmsg.SASLHandshakeResponse {
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.Version, req.Mechanism = v, mech
	resp, err := s.request(req)
	if err != nil {
		s.t.Fatalf("SaslHandshake: %v", err)
	}
	return resp.(*kmsg.SASLHandshakeResponse)
}

func (s *saslConn) authenticate(token []byte) (*kmsg.SASLAuthenticateResponse, error) {
	req := kmsg.NewPtrSASLAuthenticateRequest()
	req.Version, req.SASLAuthBytes = 1, token
	resp, err := s.request(req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.SASLAuthenticateResponse), nil
}

func metadataRequest() kmsg.Request {
	r := kmsg.NewPtrMetadataRequest()
	r.Version = 9
	return r
}

// TestSASLHostileClients: before authenticating, a connection may send
// only ApiVersions and the SASL requests, in frames up to
// sasl.server.max.receive.size; anything else closes it. Unknown
// mechanisms, SaslAuthenticate without a handshake and bad credentials
// close it after their error answer. A flood of unauthenticated
// connections costs little memory each, and the failure lines are
// rate-limited.
func TestSASLHostileClients(t *testing.T) {
	_, addr := startTestBroker(t,
		"listeners=SASL_PLAINTEXT://127.0.0.1:0",
		"sasl.enabled.mechanisms=PLAIN", "sasl.mechanism.inter.broker.protocol=PLAIN",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config="+plainJAAS,
		"sasl.server.max.receive.size=4096",
		"connection.failed.authentication.delay.ms=0",
	)

	t.Run("metadata before authentication", func(t *testing.T) {
		s := dialSASL(t, addr)
		if _, err := s.request(metadataRequest()); err == nil {
			t.Fatal("Metadata was answered before authentication")
		}
	})
	t.Run("ApiVersions is allowed", func(t *testing.T) {
		s := dialSASL(t, addr)
		av := kmsg.NewPtrApiVersionsRequest()
		if _, err := s.request(av); err != nil {
			t.Fatalf("ApiVersions before authentication: %v", err)
		}
	})
	t.Run("oversized frame", func(t *testing.T) {
		s := dialSASL(t, addr)
		s.handshake(1, "PLAIN")
		if _, err := s.authenticate(make([]byte, 8000)); err == nil {
			t.Fatal("a frame over sasl.server.max.receive.size was answered")
		}
	})
	t.Run("a huge announced size", func(t *testing.T) {
		s := dialSASL(t, addr)
		s.c.Write([]byte{0x7f, 0xff, 0xff, 0xff, 0, 17})
		if !s.closed() {
			t.Fatal("connection announcing 2 GiB not closed")
		}
	})
	t.Run("unknown mechanism", func(t *testing.T) {
		s := dialSASL(t, addr)
		r := s.handshake(1, "GSSAPI")
		if r.ErrorCode != kerr.UnsupportedSaslMechanism.Code || len(r.SupportedMechanisms) != 1 || r.SupportedMechanisms[0] != "PLAIN" {
			t.Fatalf("handshake: %+v", r)
		}
		if !s.closed() {
			t.Fatal("not closed after UNSUPPORTED_SASL_MECHANISM")
		}
	})
	t.Run("authenticate without handshake", func(t *testing.T) {
		s := dialSASL(t, addr)
		r, err := s.authenticate([]byte("\x00alice\x00alice-secret"))
		if err != nil || r.ErrorCode != kerr.IllegalSaslState.Code || !s.closed() {
			t.Fatalf("got %+v, %v; want ILLEGAL_SASL_STATE and a close", r, err)
		}
	})
	t.Run("bad password", func(t *testing.T) {
		s := dialSASL(t, addr)
		s.handshake(1, "PLAIN")
		r, err := s.authenticate([]byte("\x00alice\x00wrong"))
		if err != nil || r.ErrorCode != kerr.SaslAuthenticationFailed.Code || r.ErrorMessage == nil ||
			*r.ErrorMessage != "Authentication failed: Invalid username or password" || !s.closed() {
			t.Fatalf("got %+v, %v", r, err)
		}
	})
	t.Run("authenticated then served", func(t *testing.T) {
		s := dialSASL(t, addr)
		s.handshake(1, "PLAIN")
		if r, err := s.authenticate([]byte("\x00alice\x00alice-secret")); err != nil || r.ErrorCode != 0 {
			t.Fatalf("authenticate: %+v %v", r, err)
		}
		if _, err := s.request(metadataRequest()); err != nil {
			t.Fatalf("Metadata after authentication: %v", err)
		}
	})
	t.Run("handshake v0 with bare tokens", func(t *testing.T) {
		s := dialSASL(t, addr)
		if r := s.handshake(0, "PLAIN"); r.ErrorCode != 0 {
			t.Fatalf("handshake v0: %+v", r)
		}
		tok := []byte("\x00bob\x00bob-secret")
		frame := binary.BigEndian.AppendUint32(nil, uint32(len(tok)))
		s.c.Write(append(frame, tok...))
		var size [4]byte
		if _, err := io.ReadFull(s.c, size[:]); err != nil || binary.BigEndian.Uint32(size[:]) != 0 {
			t.Fatalf("bare token answer: %v %v", size, err)
		}
		if _, err := s.request(metadataRequest()); err != nil {
			t.Fatalf("Metadata after a v0 authentication: %v", err)
		}
	})
	t.Run("flood of unauthenticated connections", func(t *testing.T) {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		const n = 300
		conns := make([]net.Conn, 0, n)
		for range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		// Each sends a handshake so that its read loop has started.
		for _, c := range conns {
			f := kmsg.NewRequestFormatter()
			h := kmsg.NewPtrSASLHandshakeRequest()
			h.Version, h.Mechanism = 1, "PLAIN"
			c.Write(f.AppendRequest(nil, h, 1))
		}
		for _, c := range conns {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			var size [4]byte
			if _, err := io.ReadFull(c, size[:]); err != nil {
				t.Fatal(err)
			}
			io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(size[:])))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perConn := (int64(after.HeapInuse) + int64(after.StackInuse) - int64(before.HeapInuse) - int64(before.StackInuse)) / n
		for _, c := range conns {
			c.Close()
		}
		// The full-size buffers alone would be 128 KiB a connection.
		if perConn > 48<<10 {
			t.Fatalf("%d bytes per unauthenticated connection", perConn)
		}
		t.Logf("%d bytes per unauthenticated connection", perConn)
	})
}

// TestReauthentication (KIP-368): with connections.max.reauth.ms the
// session lifetime is announced in SaslAuthenticate v1; franz-go
// re-authenticates before it ends and keeps producing; a connection that
// does not is closed at its first request after the end; a
// re-authentication may not change the principal.
func TestReauthentication(t *testing.T) {
	_, addr := startTestBroker(t,
		"listeners=SASL_PLAINTEXT://127.0.0.1:0",
		"sasl.enabled.mechanisms=PLAIN", "sasl.mechanism.inter.broker.protocol=PLAIN",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config="+plainJAAS,
		"listener.name.sasl_plaintext.plain.connections.max.reauth.ms=1500",
	)
	s := dialSASL(t, addr)
	s.handshake(1, "PLAIN")
	r, err := s.authenticate([]byte("\x00alice\x00alice-secret"))
	if err != nil || r.ErrorCode != 0 || r.SessionLifetimeMillis != 1500 {
		t.Fatalf("authenticate: %+v %v", r, err)
	}
	// Re-authenticating as someone else is refused.
	other := dialSASL(t, addr)
	other.handshake(1, "PLAIN")
	other.authenticate([]byte("\x00alice\x00alice-secret"))
	other.handshake(1, "PLAIN")
	if r, err := other.authenticate([]byte("\x00bob\x00bob-secret")); err != nil || r.ErrorCode != kerr.SaslAuthenticationFailed.Code ||
		!strings.Contains(*r.ErrorMessage, "Cannot change principals") {
		t.Fatalf("re-authentication as another principal: %+v %v", r, err)
	}

	cl := secClient(t, addr, kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()),
		kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("reauth"))
	ctx := adminCtxT(t)
	deadline := time.Now().Add(4 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(n))}).FirstErr(); err != nil {
			t.Fatalf("produce %d across re-authentications: %v", n, err)
		}
		n++
		time.Sleep(100 * time.Millisecond)
	}
	// The raw connection never re-authenticated: its session is over.
	if _, err := s.request(metadataRequest()); err == nil {
		t.Fatal("a request after the session's end was answered")
	}
}
