package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ListenerSecurity is the security configuration of one listener, resolved
// from the listener.name.<l>.* overrides over the broker-wide properties.
// The broker builds its TLS configuration and SASL mechanisms from it
// (broker/tls.go, broker/sasl.go); files are read there, at start-up.
type ListenerSecurity struct {
	Name     string // listener name, upper case
	Protocol string // PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
	TLS      *TLSSettings
	SASL     *SASLSettings
}

// TLSSettings are the ssl.* properties of a listener.
type TLSSettings struct {
	KeystoreType     string // upper case; "" when unset (sniffed from the file)
	KeystoreLocation string
	KeystorePassword string
	KeyPassword      string
	KeystoreKey      string // inline PEM
	KeystoreChain    string // inline PEM

	TruststoreType         string // upper case; "" when unset
	TruststoreLocation     string
	TruststorePassword     string
	TruststoreCertificates string // inline PEM

	ClientAuth string // none, requested, required
	// MinVersion and MaxVersion are tls.VersionTLS12 or tls.VersionTLS13.
	MinVersion, MaxVersion uint16
	CipherSuites           []uint16 // empty: Go's defaults
	PrincipalRules         *PrincipalRules
	// VerifyHostname: ssl.endpoint.identification.algorithm=https, for
	// the inter-broker client.
	VerifyHostname bool
}

// SASLSettings are the sasl.* properties of a listener.
type SASLSettings struct {
	Mechanisms     []string // enabled, upper case, in the configured order
	MaxReceiveSize int32    // sasl.server.max.receive.size
	// Mechanism holds each enabled mechanism's settings.
	Mechanism map[string]*MechanismSettings
}

// MechanismSettings are one SASL mechanism's settings on one listener.
type MechanismSettings struct {
	// JAAS is listener.name.<l>.<mechanism>.sasl.jaas.config, nil when
	// unset.
	JAAS            *JAAS
	CallbackHandler string
	ReauthMs        int64 // connections.max.reauth.ms; 0: no expiry
	// OAuth: the OAUTHBEARER validation settings.
	OAuth OAuthSettings
}

// OAuthSettings configure OAUTHBEARER token validation.
type OAuthSettings struct {
	// Secured: the callback handler is OAuthBearerValidatorCallbackHandler
	// (signed JWTs, JWKS); otherwise unsecured JWS tokens are accepted.
	Secured        bool
	JWKSURL        string
	JWKSRefreshMs  int64
	Audience       []string
	Issuer         string
	SubClaim       string
	ScopeClaim     string
	ClockSkewSecs  int64
	RequiredScopes []string // unsecured: unsecuredValidatorRequiredScope
}

// JAAS is a parsed sasl.jaas.config value: the first login module and its
// options.
type JAAS struct {
	LoginModule string
	Flag        string
	Options     map[string]string
}

// Login modules whose options samsa reads.
const (
	PlainLoginModule       = "org.apache.kafka.common.security.plain.PlainLoginModule"
	ScramLoginModule       = "org.apache.kafka.common.security.scram.ScramLoginModule"
	OAuthBearerLoginModule = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
)

// SASL mechanism names.
const (
	MechPlain       = "PLAIN"
	MechScramSHA256 = "SCRAM-SHA-256"
	MechScramSHA512 = "SCRAM-SHA-512"
	MechOAuthBearer = "OAUTHBEARER"
	MechGSSAPI      = "GSSAPI"
)

// ParseJAAS parses a JAAS configuration entry as Kafka's JaasConfig does:
// "<LoginModule> <required|requisite|sufficient|optional> key=value ...;",
// values quoted with double quotes (backslash escapes) or bare words. Only
// the first module is returned.
func ParseJAAS(s string) (*JAAS, error) {
	toks, err := jaasTokens(s)
	if err != nil {
		return nil, err
	}
	if len(toks) < 3 || toks[len(toks)-1] != ";" {
		return nil, errors.New("JAAS config must be of the form '<LoginModule> <flag> key=\"value\" ...;'")
	}
	j := &JAAS{LoginModule: toks[0], Flag: strings.ToLower(toks[1]), Options: map[string]string{}}
	switch j.Flag {
	case "required", "requisite", "sufficient", "optional":
	default:
		return nil, fmt.Errorf("JAAS config: invalid control flag %q", toks[1])
	}
	for i := 2; i < len(toks) && toks[i] != ";"; i++ {
		if i+2 >= len(toks) || toks[i+1] != "=" {
			return nil, fmt.Errorf("JAAS config: option %q has no value", toks[i])
		}
		j.Options[toks[i]] = toks[i+2]
		i += 2
	}
	return j, nil
}

// jaasTokens splits a JAAS entry into words, "=", ";" and unquoted strings.
func jaasTokens(s string) ([]string, error) {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '=' || c == ';':
			out = append(out, string(c))
			i++
		case c == '"':
			var sb strings.Builder
			i++
			closed := false
			for i < len(s) {
				if s[i] == '\\' && i+1 < len(s) {
					sb.WriteByte(s[i+1])
					i += 2
					continue
				}
				if s[i] == '"' {
					closed = true
					i++
					break
				}
				sb.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, errors.New("JAAS config: unterminated quoted value")
			}
			out = append(out, sb.String())
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n=;\"", rune(s[j])) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out, nil
}

// PrincipalRules are ssl.principal.mapping.rules (Kafka's SslPrincipalMapper):
// each RULE:pattern/replacement/[LU] is tried in order on the certificate's
// distinguished name (RFC 2253); the first whose pattern matches the whole
// name gives the principal, DEFAULT gives the name unchanged.
type PrincipalRules struct {
	rules []principalRule
}

type principalRule struct {
	dflt        bool
	re          *regexp.Regexp
	replacement string
	lower       bool
	upper       bool
}

// ruleRe is Kafka's RULE_PARSER: DEFAULT, or RULE:pattern/replacement/ with
// an optional L or U flag.
var ruleRe = regexp.MustCompile(`^\s*((DEFAULT)|RULE:((\\.|[^\\/])*)/((\\.|[^\\/])*)/([LU]?).*?|(.*?))\s*([,\n]\s*|$)`)

// ParsePrincipalRules parses ssl.principal.mapping.rules.
func ParsePrincipalRules(s string) (*PrincipalRules, error) {
	pr := &PrincipalRules{}
	rest := strings.TrimSpace(s)
	if rest == "" {
		rest = "DEFAULT"
	}
	for rest != "" {
		m := ruleRe.FindStringSubmatch(rest)
		if m == nil || m[0] == "" {
			return nil, fmt.Errorf("invalid rule: %s", rest)
		}
		switch {
		case m[2] == "DEFAULT":
			pr.rules = append(pr.rules, principalRule{dflt: true})
		case m[8] != "" || !strings.HasPrefix(strings.TrimSpace(m[1]), "RULE:"):
			return nil, fmt.Errorf("invalid rule: %s", strings.TrimSpace(m[1]))
		default:
			re, err := regexp.Compile("^(?:" + m[3] + ")$")
			if err != nil {
				return nil, fmt.Errorf("invalid rule %s: %v", m[1], err)
			}
			pr.rules = append(pr.rules, principalRule{re: re, replacement: javaReplacement(m[5]), lower: m[7] == "L", upper: m[7] == "U"})
		}
		rest = rest[len(m[0]):]
	}
	return pr, nil
}

// javaReplacement turns a Java replacement ($1, \$) into Go's ($1 -> ${1}).
func javaReplacement(r string) string {
	var sb strings.Builder
	for i := 0; i < len(r); i++ {
		switch {
		case r[i] == '\\' && i+1 < len(r):
			if r[i+1] == '$' {
				sb.WriteString("$$")
			} else {
				sb.WriteByte(r[i+1])
			}
			i++
		case r[i] == '$' && i+1 < len(r) && r[i+1] >= '0' && r[i+1] <= '9':
			j := i + 1
			for j < len(r) && r[j] >= '0' && r[j] <= '9' {
				j++
			}
			sb.WriteString("${" + r[i+1:j] + "}")
			i = j - 1
		default:
			sb.WriteByte(r[i])
		}
	}
	return sb.String()
}

// Apply maps a distinguished name to a principal name; an error when no
// rule matches (Kafka refuses the connection then).
func (pr *PrincipalRules) Apply(dn string) (string, error) {
	for _, r := range pr.rules {
		if r.dflt {
			return dn, nil
		}
		if !r.re.MatchString(dn) {
			continue
		}
		out := r.re.ReplaceAllString(dn, r.replacement)
		switch {
		case r.lower:
			out = strings.ToLower(out)
		case r.upper:
			out = strings.ToUpper(out)
		}
		return out, nil
	}
	return "", fmt.Errorf("no rule of ssl.principal.mapping.rules applies to %q", dn)
}

func cipherSuites(v string) error {
	_, err := parseCipherSuites(v)
	return err
}

func parseCipherSuites(v string) ([]uint16, error) {
	byName := map[string]uint16{}
	for _, cs := range tls.CipherSuites() {
		byName[cs.Name] = cs.ID
	}
	var out []uint16
	for _, n := range splitList(v) {
		id, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("unknown or insecure cipher suite %q (IANA names, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)", n)
		}
		out = append(out, id)
	}
	return out, nil
}

// listenerProperty validates listener.name.<l>.<property> and
// listener.name.<l>.<mechanism>.<property>, returning the def that
// validates its value; an error names what is wrong with the key.
func listenerProperty(key string) (*def, error) {
	rest := strings.TrimPrefix(key, "listener.name.")
	l, prop, ok := strings.Cut(rest, ".")
	if !ok || l == "" {
		return nil, fmt.Errorf("listener property %q is not of the form listener.name.<listener>.<property>", key)
	}
	if d := brokerDefs[prop]; d != nil && listenerScoped(prop) {
		return d, nil
	}
	if mech, p, ok := strings.Cut(prop, "."); ok && knownMechanism(mech) && brokerDefs[p] != nil &&
		(mechanismScoped[p] || strings.HasPrefix(p, "sasl.")) {
		return brokerDefs[p], nil
	}
	return nil, fmt.Errorf("unknown listener property %q: samsa reads listener.name.<listener>.<ssl.* or sasl.* property> and listener.name.<listener>.<mechanism>.<sasl.* property or connections.max.reauth.ms>", key)
}

func knownMechanism(m string) bool {
	switch strings.ToUpper(m) {
	case MechPlain, MechScramSHA256, MechScramSHA512, MechOAuthBearer, MechGSSAPI:
		return true
	}
	return false
}

// listenerValue is a property of one listener: listener.name.<l>.<name>
// if set, else the broker-wide value (or default).
func (b *Broker) listenerValue(listener, name string) (string, bool) {
	if v, ok := b.static["listener.name."+strings.ToLower(listener)+"."+name]; ok {
		return v, true
	}
	return b.raw(name)
}

// mechanismValue is a property of one mechanism of one listener:
// listener.name.<l>.<mechanism>.<name>, else listenerValue (except for
// sasl.jaas.config, which Kafka's brokers read only with both prefixes).
func (b *Broker) mechanismValue(listener, mech, name string) (string, bool) {
	if v, ok := b.static["listener.name."+strings.ToLower(listener)+"."+strings.ToLower(mech)+"."+name]; ok {
		return v, true
	}
	if name == "sasl.jaas.config" {
		return "", false
	}
	return b.listenerValue(listener, name)
}

func (b *Broker) listenerSet(listener, name string) bool {
	_, ok := b.static["listener.name."+strings.ToLower(listener)+"."+name]
	if !ok {
		_, ok = b.static[name]
	}
	return ok
}

// deriveSecurity fills Security for every listener and checks what Kafka
// checks at start-up: a TLS listener has a key store, a SASL listener
// offers mechanisms samsa has (not GSSAPI), PLAIN has its users, the
// inter-broker mechanism is enabled on a SASL inter-broker listener.
func (b *Broker) deriveSecurity() error {
	var errs []error
	bad := func(key, reason string) {
		v, _ := b.raw(key)
		if strings.HasPrefix(key, "listener.name.") {
			v = b.static[key]
		}
		errs = append(errs, &Error{Key: key, Value: v, Reason: reason})
	}
	b.Security = make(map[string]*ListenerSecurity, len(b.Listeners))
	names := map[string]bool{}
	for _, l := range b.Listeners {
		names[strings.ToLower(l.Name)] = true
		ls := &ListenerSecurity{Name: l.Name, Protocol: b.ListenerProtocols[l.Name]}
		if ls.Protocol == "SSL" || ls.Protocol == "SASL_SSL" {
			ts, err := b.tlsSettings(l.Name)
			if err != nil {
				errs = append(errs, err)
			}
			ls.TLS = ts
		}
		if ls.Protocol == "SASL_PLAINTEXT" || ls.Protocol == "SASL_SSL" {
			ss, err := b.saslSettings(l.Name)
			if err != nil {
				errs = append(errs, err)
			}
			ls.SASL = ss
		}
		b.Security[l.Name] = ls
	}
	for k := range b.static {
		if rest, ok := strings.CutPrefix(k, "listener.name."); ok {
			if l, _, _ := strings.Cut(rest, "."); !names[l] {
				b.warnings = append(b.warnings, fmt.Sprintf("property %s names listener %s, which is not in listeners; it has no effect", k, strings.ToUpper(l)))
			}
		}
	}
	if _, ok := b.static["sasl.jaas.config"]; ok {
		b.warnings = append(b.warnings, "property sasl.jaas.config without a listener.name.<listener>.<mechanism>. prefix is not read by brokers (as in Kafka); it has no effect")
	}
	if ib := b.Security[b.InterBrokerListener]; ib != nil && ib.SASL != nil {
		mech := strings.ToUpper(b.Str("sasl.mechanism.inter.broker.protocol"))
		if !slices.Contains(ib.SASL.Mechanisms, mech) {
			bad("sasl.mechanism.inter.broker.protocol", fmt.Sprintf("sasl.mechanism.inter.broker.protocol must be included in sasl.enabled.mechanisms of the inter-broker listener %s when SASL is used for inter-broker communication", ib.Name))
		}
	}
	return errors.Join(errs...)
}

func (b *Broker) tlsSettings(l string) (*TLSSettings, error) {
	get := func(k string) string { v, _ := b.listenerValue(l, k); return v }
	key := func(k string) string {
		if _, ok := b.static["listener.name."+strings.ToLower(l)+"."+k]; ok {
			return "listener.name." + strings.ToLower(l) + "." + k
		}
		return k
	}
	ts := &TLSSettings{
		KeystoreLocation:       get("ssl.keystore.location"),
		KeystorePassword:       get("ssl.keystore.password"),
		KeyPassword:            get("ssl.key.password"),
		KeystoreKey:            get("ssl.keystore.key"),
		KeystoreChain:          get("ssl.keystore.certificate.chain"),
		TruststoreLocation:     get("ssl.truststore.location"),
		TruststorePassword:     get("ssl.truststore.password"),
		TruststoreCertificates: get("ssl.truststore.certificates"),
		ClientAuth:             get("ssl.client.auth"),
		VerifyHostname:         strings.EqualFold(get("ssl.endpoint.identification.algorithm"), "https"),
	}
	if b.listenerSet(l, "ssl.keystore.type") {
		ts.KeystoreType = strings.ToUpper(get("ssl.keystore.type"))
	}
	if b.listenerSet(l, "ssl.truststore.type") {
		ts.TruststoreType = strings.ToUpper(get("ssl.truststore.type"))
	}
	var errs []error
	fail := func(k, reason string) {
		errs = append(errs, &Error{Key: key(k), Value: get(k), Reason: reason})
	}
	protos := splitList(get("ssl.enabled.protocols"))
	ts.MinVersion, ts.MaxVersion = tls.VersionTLS13, tls.VersionTLS12
	for _, p := range protos {
		v := uint16(tls.VersionTLS12)
		if p == "TLSv1.3" {
			v = tls.VersionTLS13
		}
		ts.MinVersion, ts.MaxVersion = min(ts.MinVersion, v), max(ts.MaxVersion, v)
	}
	if len(protos) == 0 {
		fail("ssl.enabled.protocols", "must name TLSv1.2 and/or TLSv1.3")
	}
	if get("ssl.protocol") == "TLSv1.2" && ts.MinVersion <= tls.VersionTLS12 {
		ts.MaxVersion = tls.VersionTLS12
	}
	ts.CipherSuites, _ = parseCipherSuites(get("ssl.cipher.suites")) // validated
	ts.PrincipalRules, _ = ParsePrincipalRules(get("ssl.principal.mapping.rules"))
	inline := ts.KeystoreKey != "" || ts.KeystoreChain != ""
	switch {
	case inline && ts.KeystoreLocation != "":
		fail("ssl.keystore.key", "ssl.keystore.key and ssl.keystore.certificate.chain cannot be used with ssl.keystore.location")
	case inline && (ts.KeystoreKey == "" || ts.KeystoreChain == ""):
		fail("ssl.keystore.key", "ssl.keystore.key and ssl.keystore.certificate.chain must be set together")
	case inline && ts.KeystoreType != "PEM":
		fail("ssl.keystore.type", "inline keys (ssl.keystore.key) need ssl.keystore.type=PEM")
	case !inline && ts.KeystoreLocation == "":
		errs = append(errs, &Error{Key: "listeners", Value: l, Reason: fmt.Sprintf("listener %s uses TLS but has no key store: set ssl.keystore.location (or listener.name.%s.ssl.keystore.location), or ssl.keystore.key and ssl.keystore.certificate.chain with ssl.keystore.type=PEM", l, strings.ToLower(l))})
	}
	if ts.TruststoreCertificates != "" && ts.TruststoreLocation != "" {
		fail("ssl.truststore.certificates", "ssl.truststore.certificates cannot be used with ssl.truststore.location")
	}
	if ts.TruststoreCertificates != "" && ts.TruststoreType != "PEM" {
		fail("ssl.truststore.type", "inline trusted certificates (ssl.truststore.certificates) need ssl.truststore.type=PEM")
	}
	if ts.ClientAuth != "none" && ts.TruststoreLocation == "" && ts.TruststoreCertificates == "" {
		fail("ssl.client.auth", "client certificates are verified against a trust store: set ssl.truststore.location or ssl.truststore.certificates")
	}
	return ts, errors.Join(errs...)
}

func (b *Broker) saslSettings(l string) (*SASLSettings, error) {
	get := func(k string) string { v, _ := b.listenerValue(l, k); return v }
	var errs []error
	fail := func(k, v, reason string) { errs = append(errs, &Error{Key: k, Value: v, Reason: reason}) }
	ss := &SASLSettings{Mechanism: map[string]*MechanismSettings{}}
	mk := "sasl.enabled.mechanisms"
	if _, ok := b.static["listener.name."+strings.ToLower(l)+"."+mk]; ok {
		mk = "listener.name." + strings.ToLower(l) + "." + mk
	}
	for _, m := range splitList(get("sasl.enabled.mechanisms")) {
		m = strings.ToUpper(m)
		if m == MechGSSAPI {
			fail(mk, get("sasl.enabled.mechanisms"), fmt.Sprintf("listener %s: GSSAPI (Kerberos) is not supported (it is Kafka's default of sasl.enabled.mechanisms); set sasl.enabled.mechanisms to PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and/or OAUTHBEARER", l))
			continue
		}
		if !slices.Contains(ss.Mechanisms, m) {
			ss.Mechanisms = append(ss.Mechanisms, m)
		}
	}
	if len(ss.Mechanisms) == 0 && len(errs) == 0 {
		fail(mk, get("sasl.enabled.mechanisms"), fmt.Sprintf("listener %s uses SASL but enables no mechanism", l))
	}
	ss.MaxReceiveSize = int32(parseIntOr(get("sasl.server.max.receive.size"), 524288))
	for _, m := range ss.Mechanisms {
		ms := &MechanismSettings{}
		jaasKey := "listener.name." + strings.ToLower(l) + "." + strings.ToLower(m) + ".sasl.jaas.config"
		if v, ok := b.mechanismValue(l, m, "sasl.jaas.config"); ok {
			j, err := ParseJAAS(v)
			if err != nil {
				fail(jaasKey, "[hidden]", err.Error())
			}
			ms.JAAS = j
		}
		ms.CallbackHandler, _ = b.mechanismValue(l, m, "sasl.server.callback.handler.class")
		if v, _ := b.mechanismValue(l, m, "connections.max.reauth.ms"); v != "" {
			ms.ReauthMs = parseIntOr(v, 0)
		}
		switch m {
		case MechPlain:
			if ms.JAAS == nil {
				fail(jaasKey, "", fmt.Sprintf("listener %s enables PLAIN: its users are the user_<name>=\"<password>\" options of %s (%s required ...;); samsa does not read JAAS files", l, jaasKey, PlainLoginModule))
			} else if ms.JAAS.LoginModule != PlainLoginModule {
				fail(jaasKey, "[hidden]", fmt.Sprintf("PLAIN needs %s, not %s", PlainLoginModule, ms.JAAS.LoginModule))
			}
			if ms.CallbackHandler != "" {
				fail("sasl.server.callback.handler.class", ms.CallbackHandler, "PLAIN takes its users from the JAAS config; custom callback handlers are not supported")
			}
		case MechScramSHA256, MechScramSHA512:
			if ms.CallbackHandler != "" {
				fail("sasl.server.callback.handler.class", ms.CallbackHandler, "SCRAM reads its credentials from etcd; custom callback handlers are not supported")
			}
		case MechOAuthBearer:
			o := &ms.OAuth
			o.Secured = ms.CallbackHandler == OAuthBearerValidatorHandler
			mv := func(k string) string { v, _ := b.mechanismValue(l, m, k); return v }
			o.JWKSURL = mv("sasl.oauthbearer.jwks.endpoint.url")
			o.JWKSRefreshMs = parseIntOr(mv("sasl.oauthbearer.jwks.endpoint.refresh.ms"), 3600000)
			o.Audience = splitList(mv("sasl.oauthbearer.expected.audience"))
			o.Issuer = mv("sasl.oauthbearer.expected.issuer")
			o.SubClaim = mv("sasl.oauthbearer.sub.claim.name")
			o.ScopeClaim = mv("sasl.oauthbearer.scope.claim.name")
			o.ClockSkewSecs = parseIntOr(mv("sasl.oauthbearer.clock.skew.seconds"), 30)
			if !o.Secured {
				// The unsecured validator's own options (Kafka's
				// OAuthBearerUnsecuredValidatorCallbackHandler).
				o.SubClaim, o.ScopeClaim, o.ClockSkewSecs = "sub", "scope", 0
				if ms.JAAS != nil {
					opt := ms.JAAS.Options
					if v := opt["unsecuredValidatorPrincipalClaimName"]; v != "" {
						o.SubClaim = v
					}
					if v := opt["unsecuredValidatorScopeClaimName"]; v != "" {
						o.ScopeClaim = v
					}
					if v := opt["unsecuredValidatorAllowableClockSkewMs"]; v != "" {
						o.ClockSkewSecs = parseIntOr(v, 0) / 1000
					}
					o.RequiredScopes = strings.Fields(strings.ReplaceAll(opt["unsecuredValidatorRequiredScope"], ",", " "))
				}
			} else if o.JWKSURL == "" {
				fail("sasl.oauthbearer.jwks.endpoint.url", "", fmt.Sprintf("listener %s: %s needs sasl.oauthbearer.jwks.endpoint.url", l, OAuthBearerValidatorHandler))
			}
		}
		ss.Mechanism[m] = ms
	}
	return ss, errors.Join(errs...)
}

func parseIntOr(v string, dflt int64) int64 {
	var n int64
	if _, err := fmt.Sscan(strings.TrimSpace(v), &n); err != nil {
		return dflt
	}
	return n
}

// SuperUsers returns super.users, split.
func (b *Broker) SuperUsers() []string {
	var out []string
	for _, p := range strings.Split(b.Str("super.users"), ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// AuthorizerEnabled reports whether authorizer.class.name names an ACL
// authorizer.
func (b *Broker) AuthorizerEnabled() bool { return b.Str("authorizer.class.name") != "" }
