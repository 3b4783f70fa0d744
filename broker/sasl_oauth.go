package broker

// SASL/OAUTHBEARER (RFC 7628, KIP-255, KIP-768). The client's message is
// "n,,\x01auth=Bearer <token>\x01...\x01"; the token is a JWS in compact
// form. Two validators, chosen as in Kafka by
// sasl.server.callback.handler.class:
//
//   - unsecured (the default, Kafka's OAuthBearerUnsecuredValidator-
//     CallbackHandler, for tests): alg "none", no signature; exp required,
//     the principal claim (unsecuredValidatorPrincipalClaimName, "sub"),
//     unsecuredValidatorRequiredScope checked against the scope claim;
//   - OAuthBearerValidatorCallbackHandler: a signed JWT (RS*, PS*, ES*)
//     verified with a key of the JWKS at sasl.oauthbearer.jwks.endpoint.url
//     (found by kid; the set is read again every
//     sasl.oauthbearer.jwks.endpoint.refresh.ms, and at most every 10 s
//     for a kid it does not hold); exp required, nbf and iat when present,
//     iss equal to sasl.oauthbearer.expected.issuer and aud naming one of
//     sasl.oauthbearer.expected.audience when those are set, the principal
//     from sasl.oauthbearer.sub.claim.name; sasl.oauthbearer.clock.skew.seconds
//     of slack.
//
// An invalid token is answered, as RFC 7628 says, with the JSON error
// {"status":"invalid_token"} as the server's message; the client replies
// with a bare \x01 and the authentication then fails with the reason. The
// session ends at the token's exp (re-authentication, KIP-368).

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/samsa-io/samsa/broker/config"
)

type oauthMechanism struct {
	b      *Broker
	o      config.OAuthSettings
	reauth int64
	jwks   *jwksCache // secured only
}

func newOAuthMechanism(b *Broker, ms *config.MechanismSettings) (*oauthMechanism, error) {
	m := &oauthMechanism{b: b, o: ms.OAuth, reauth: ms.ReauthMs}
	if m.o.Secured {
		m.jwks = &jwksCache{url: m.o.JWKSURL, refresh: time.Duration(m.o.JWKSRefreshMs) * time.Millisecond}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.jwks.load(ctx); err != nil {
			// Kafka refuses to start without its JWKS too.
			return nil, fmt.Errorf("sasl.oauthbearer.jwks.endpoint.url: %w", err)
		}
	}
	return m, nil
}

func (m *oauthMechanism) reauthMs() int64 { return m.reauth }

func (m *oauthMechanism) start(*conn) saslExchange { return &oauthExchange{m: m} }

type oauthExchange struct {
	m      *oauthMechanism
	name   string
	exp    time.Time
	failed error // the token was invalid; the client's \x01 ends it
}

func (e *oauthExchange) next(msg []byte) ([]byte, bool, error) {
	if e.failed != nil {
		return nil, false, e.failed
	}
	token, err := oauthToken(msg)
	if err == nil {
		e.name, e.exp, err = e.m.validate(token, time.Now())
	}
	if err != nil {
		e.failed = &authError{msg: "Authentication failed: " + err.Error()}
		return []byte(`{"status":"invalid_token"}`), false, nil
	}
	return []byte{}, true, nil
}

func (e *oauthExchange) user() string      { return e.name }
func (e *oauthExchange) expiry() time.Time { return e.exp }

// oauthToken extracts the bearer token of a client's first message.
func oauthToken(msg []byte) (string, error) {
	gs2, rest, ok := bytes.Cut(msg, []byte{1})
	if !ok || !(bytes.HasPrefix(gs2, []byte("n,")) || bytes.HasPrefix(gs2, []byte("y,"))) {
		return "", errors.New("invalid OAUTHBEARER client first message")
	}
	for _, kv := range bytes.Split(rest, []byte{1}) {
		if v, ok := bytes.CutPrefix(kv, []byte("auth=")); ok {
			scheme, tok, ok := strings.Cut(string(v), " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
				return "", errors.New("invalid OAUTHBEARER auth value: want Bearer <token>")
			}
			return strings.TrimSpace(tok), nil
		}
	}
	return "", errors.New("OAUTHBEARER client first message has no auth=Bearer token")
}

// validate checks a token and returns its principal name and expiry.
func (m *oauthMechanism) validate(token string, now time.Time) (string, time.Time, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", time.Time{}, errors.New("the token is not a JWS in compact serialization (three dot-separated parts)")
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := decodeJWTPart(parts[0], &header); err != nil {
		return "", time.Time{}, fmt.Errorf("token header: %w", err)
	}
	var claims map[string]any
	if err := decodeJWTPart(parts[1], &claims); err != nil {
		return "", time.Time{}, fmt.Errorf("token payload: %w", err)
	}
	if !m.o.Secured {
		if header.Alg != "none" {
			return "", time.Time{}, fmt.Errorf("unsecured JWS must have alg none, not %q (configure %s for signed tokens)", header.Alg, config.OAuthBearerValidatorHandler)
		}
	} else {
		if err := m.verifySignature(header.Alg, header.Kid, parts); err != nil {
			return "", time.Time{}, err
		}
	}
	skew := time.Duration(m.o.ClockSkewSecs) * time.Second
	exp, ok := numericDate(claims["exp"])
	if !ok {
		return "", time.Time{}, errors.New("the token has no exp claim")
	}
	if !now.Before(exp.Add(skew)) {
		return "", time.Time{}, fmt.Errorf("the token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if nbf, ok := numericDate(claims["nbf"]); ok && now.Add(skew).Before(nbf) {
		return "", time.Time{}, errors.New("the token is not valid yet (nbf)")
	}
	if iat, ok := numericDate(claims["iat"]); ok && now.Add(skew).Before(iat) {
		return "", time.Time{}, errors.New("the token was issued in the future (iat)")
	}
	sub, _ := claims[m.o.SubClaim].(string)
	if sub == "" {
		return "", time.Time{}, fmt.Errorf("the token has no %s claim", m.o.SubClaim)
	}
	if m.o.Secured {
		if m.o.Issuer != "" {
			if iss, _ := claims["iss"].(string); iss != m.o.Issuer {
				return "", time.Time{}, fmt.Errorf("the token's issuer %q is not the expected %q", iss, m.o.Issuer)
			}
		}
		if len(m.o.Audience) > 0 && !slices.ContainsFunc(stringsClaim(claims["aud"]), func(a string) bool { return slices.Contains(m.o.Audience, a) }) {
			return "", time.Time{}, fmt.Errorf("the token's audience %v names none of the expected %v", stringsClaim(claims["aud"]), m.o.Audience)
		}
	}
	if len(m.o.RequiredScopes) > 0 {
		have := stringsClaim(claims[m.o.ScopeClaim])
		if len(have) == 1 {
			have = strings.Fields(have[0])
		}
		for _, s := range m.o.RequiredScopes {
			if !slices.Contains(have, s) {
				return "", time.Time{}, fmt.Errorf("the token lacks the required scope %q", s)
			}
		}
	}
	return sub, exp, nil
}

func decodeJWTPart(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// numericDate reads a JWT NumericDate (seconds, possibly fractional).
func numericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e13 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// stringsClaim reads a claim that is a string or a list of strings.
func stringsClaim(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// verifySignature checks a signed JWT against the JWKS.
func (m *oauthMechanism) verifySignature(alg, kid string, parts []string) error {
	var h crypto.Hash
	switch alg {
	case "RS256", "PS256", "ES256":
		h = crypto.SHA256
	case "RS384", "PS384", "ES384":
		h = crypto.SHA384
	case "RS512", "PS512", "ES512":
		h = crypto.SHA512
	default:
		return fmt.Errorf("the token's signature algorithm %q is not allowed (RS, PS or ES 256/384/512)", alg)
	}
	key, err := m.jwks.key(kid)
	if err != nil {
		return err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return errors.New("the token's signature is not base64url")
	}
	var digest []byte
	signed := []byte(parts[0] + "." + parts[1])
	switch h {
	case crypto.SHA256:
		s := sha256.Sum256(signed)
		digest = s[:]
	case crypto.SHA384:
		s := sha512.Sum384(signed)
		digest = s[:]
	default:
		s := sha512.Sum512(signed)
		digest = s[:]
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		switch alg[0] {
		case 'R':
			err = rsa.VerifyPKCS1v15(k, h, digest, sig)
		case 'P':
			err = rsa.VerifyPSS(k, h, digest, sig, nil)
		default:
			err = errors.New("an RSA key cannot verify " + alg)
		}
	case *ecdsa.PublicKey:
		n := (k.Curve.Params().BitSize + 7) / 8
		if alg[0] != 'E' || len(sig) != 2*n {
			return errors.New("the token's signature does not fit the key")
		}
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		if !ecdsa.Verify(k, digest, r, s) {
			err = errors.New("bad signature")
		}
	default:
		err = errors.New("unsupported key type")
	}
	if err != nil {
		return fmt.Errorf("the token's signature does not verify: %w", err)
	}
	return nil
}

// jwksCache holds the signing keys of a JWKS URL.
type jwksCache struct {
	url     string
	refresh time.Duration

	mu      sync.Mutex
	keys    map[string]crypto.PublicKey // guarded by mu; by kid ("" for a key without one)
	loaded  time.Time                   // guarded by mu
	tried   time.Time                   // guarded by mu: the last load, successful or not
	loadErr error                       // guarded by mu
}

// jwksRetry is the least time between two loads caused by unknown kids.
const jwksRetry = 10 * time.Second

// key returns the key of kid, reading the set again when it is stale or
// does not hold kid (at most every jwksRetry). It is called on the read
// loop of one connection; a slow JWKS endpoint slows that connection's
// authentication only.
func (j *jwksCache) key(kid string) (crypto.PublicKey, error) {
	j.mu.Lock()
	k, ok := j.lookupLocked(kid)
	stale := time.Since(j.loaded) > j.refresh
	retry := time.Since(j.tried) > jwksRetry
	j.mu.Unlock()
	if ok && !stale {
		return k, nil
	}
	if retry || stale {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		j.load(ctx)
		cancel()
		j.mu.Lock()
		k, ok = j.lookupLocked(kid)
		j.mu.Unlock()
	}
	if !ok {
		return nil, fmt.Errorf("no key with kid %q in the JWKS", kid)
	}
	return k, nil
}

func (j *jwksCache) lookupLocked(kid string) (crypto.PublicKey, bool) {
	if k, ok := j.keys[kid]; ok {
		return k, true
	}
	if kid == "" && len(j.keys) == 1 {
		for _, k := range j.keys {
			return k, true
		}
	}
	return nil, false
}

// load reads the key set.
func (j *jwksCache) load(ctx context.Context) error {
	j.mu.Lock()
	j.tried = time.Now()
	j.mu.Unlock()
	data, err := readURL(ctx, j.url)
	var keys map[string]crypto.PublicKey
	if err == nil {
		keys, err = parseJWKS(data)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.loadErr = err
	if err != nil {
		return err
	}
	j.keys, j.loaded = keys, time.Now()
	return nil
}

// readURL reads an http(s) or file URL, at most 1 MiB.
func readURL(ctx context.Context, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "file":
		f, err := os.Open(u.Path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(io.LimitReader(f, 1<<20))
	case "http", "https":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", raw, resp.Status)
		}
		return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	}
	return nil, fmt.Errorf("unsupported JWKS URL scheme %q (http, https or file)", u.Scheme)
}

// parseJWKS reads the RSA and EC signing keys of a JWK set (RFC 7517).
func parseJWKS(data []byte) (map[string]crypto.PublicKey, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			N   string `json:"n"`
			E   string `json:"e"`
			Crv string `json:"crv"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	out := map[string]crypto.PublicKey{}
	b64 := func(s string) []byte {
		b, _ := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		return b
	}
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		switch k.Kty {
		case "RSA":
			n, e := new(big.Int).SetBytes(b64(k.N)), new(big.Int).SetBytes(b64(k.E))
			if n.Sign() == 0 || !e.IsInt64() || e.Int64() < 3 || e.Int64() > math.MaxInt32 {
				continue
			}
			out[k.Kid] = &rsa.PublicKey{N: n, E: int(e.Int64())}
		case "EC":
			var curve elliptic.Curve
			switch k.Crv {
			case "P-256":
				curve = elliptic.P256()
			case "P-384":
				curve = elliptic.P384()
			case "P-521":
				curve = elliptic.P521()
			default:
				continue
			}
			x, y := b64(k.X), b64(k.Y)
			size := (curve.Params().BitSize + 7) / 8
			if len(x) != size || len(y) != size {
				continue
			}
			pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
			if err != nil {
				continue
			}
			out[k.Kid] = pub
		}
	}
	if len(out) == 0 {
		return nil, errors.New("JWKS holds no RSA or EC signing key")
	}
	return out, nil
}
