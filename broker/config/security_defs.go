package config

import (
	"fmt"
	"strings"
)

// The security properties: TLS (ssl.*), SASL (sasl.*), re-authentication,
// the authorizer and client quotas, with Kafka's names and defaults
// (BrokerSecurityConfigs, SslConfigs, SaslConfigs, QuotaConfig). Each ssl.*
// and sasl.* property, and connections.max.reauth.ms, may also be set for
// one listener as listener.name.<listener>.<property>, and the SASL
// mechanism properties for one mechanism of one listener as
// listener.name.<listener>.<mechanism>.<property> (security.go).

// Reasons of the inert and unsupported security properties.
const (
	whyJCA         = "TLS is Go's crypto/tls; Java's key and trust manager factories, providers and random sources do not apply"
	whyKerberos    = "GSSAPI (Kerberos) is not supported"
	whyLoginClient = "these configure a client's login; samsa's inter-broker connections use the JAAS username and password of their listener's mechanism"
	whyCertReload  = "key stores are read at start-up only (no dynamic reconfiguration)"
)

var securityTable = []*def{
	// TLS (SSL and SASL_SSL listeners).
	{name: "ssl.keystore.type", typ: TypeString, dflt: "JKS", check: stringInFold("JKS", "PKCS12", "PEM"), readOnly: true,
		doc: "Format of the key store: PEM, PKCS12 or JKS. Unset with a location whose file starts with PEM text, it is read as PEM."},
	{name: "ssl.keystore.location", typ: TypeString, noDefault: true, readOnly: true,
		doc: "Path of the key store holding the listener's private key and certificate chain."},
	{name: "ssl.keystore.password", typ: TypePassword, noDefault: true, readOnly: true,
		doc: "Password of the key store (PKCS12, JKS); for PEM, see ssl.key.password."},
	{name: "ssl.key.password", typ: TypePassword, noDefault: true, readOnly: true,
		doc: "Password of the private key: of an encrypted PEM key (PKCS#8 or legacy), or of the key entry of a JKS store."},
	{name: "ssl.keystore.key", typ: TypePassword, noDefault: true, readOnly: true,
		doc: "The private key in PEM (PKCS#8, PKCS#1 or EC), inline, with ssl.keystore.type=PEM; encrypted ones need ssl.key.password."},
	{name: "ssl.keystore.certificate.chain", typ: TypePassword, noDefault: true, readOnly: true,
		doc: "The certificate chain in PEM, inline, with ssl.keystore.type=PEM."},
	{name: "ssl.truststore.type", typ: TypeString, dflt: "JKS", check: stringInFold("JKS", "PKCS12", "PEM"), readOnly: true,
		doc: "Format of the trust store: PEM, PKCS12 or JKS."},
	{name: "ssl.truststore.location", typ: TypeString, noDefault: true, readOnly: true,
		doc: "Path of the trust store: the CA certificates client certificates are verified against (mTLS)."},
	{name: "ssl.truststore.password", typ: TypePassword, noDefault: true, readOnly: true,
		doc: "Password of the trust store (checked for PKCS12 and JKS)."},
	{name: "ssl.truststore.certificates", typ: TypePassword, noDefault: true, readOnly: true,
		doc: "Trusted certificates in PEM, inline, with ssl.truststore.type=PEM."},
	{name: "ssl.client.auth", typ: TypeString, dflt: "none", check: stringIn("required", "requested", "none"), readOnly: true,
		doc: "Client certificates: required (mTLS; a client without one is refused), requested (verified if sent) or none."},
	{name: "ssl.enabled.protocols", typ: TypeList, dflt: "TLSv1.2,TLSv1.3", check: listIn("TLSv1.2", "TLSv1.3"), readOnly: true,
		doc: "TLS versions accepted: TLSv1.2 and/or TLSv1.3 (older ones are never accepted)."},
	{name: "ssl.protocol", typ: TypeString, dflt: "TLSv1.3", check: stringIn("TLSv1.2", "TLSv1.3", "TLS"), readOnly: true,
		doc: "The SSLContext protocol; with Go's TLS the versions are ssl.enabled.protocols, and TLSv1.2 here lowers the highest to 1.2 as in Java."},
	{name: "ssl.cipher.suites", typ: TypeList, dflt: "", check: cipherSuites, readOnly: true,
		doc: "TLS 1.2 cipher suites by their IANA names (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ...); empty: Go's secure defaults. TLS 1.3 suites are not configurable in Go."},
	{name: "ssl.principal.mapping.rules", typ: TypeString, dflt: "DEFAULT", check: principalRulesSyntax, readOnly: true,
		doc: "Rules mapping a client certificate's distinguished name to a principal: RULE:pattern/replacement/[LU], ..., DEFAULT (Kafka's syntax)."},
	{name: "ssl.endpoint.identification.algorithm", typ: TypeString, dflt: "https", check: stringInFold("https", ""), readOnly: true,
		doc: "https: the inter-broker connections (replica fetchers) verify the leader's host name in its certificate; empty: they do not."},
	{name: "ssl.keymanager.algorithm", status: inert, why: whyJCA, typ: TypeString, dflt: "SunX509", readOnly: true,
		doc: "Java key manager algorithm."},
	{name: "ssl.trustmanager.algorithm", status: inert, why: whyJCA, typ: TypeString, dflt: "PKIX", readOnly: true,
		doc: "Java trust manager algorithm."},
	{name: "ssl.provider", status: inert, why: whyJCA, typ: TypeString, noDefault: true, readOnly: true,
		doc: "Java security provider."},
	{name: "ssl.secure.random.implementation", status: inert, why: whyJCA, typ: TypeString, noDefault: true, readOnly: true,
		doc: "Java SecureRandom implementation."},
	{name: "ssl.engine.factory.class", status: unsupported, why: whyJCA, typ: TypeClass, dflt: "", readOnly: true,
		doc: "Custom SSLEngine factory."},
	{name: "ssl.allow.dn.changes", status: inert, why: whyCertReload, typ: TypeBoolean, dflt: "false", readOnly: true,
		doc: "Allow a reloaded key store to change the certificate's DN."},
	{name: "ssl.allow.san.changes", status: inert, why: whyCertReload, typ: TypeBoolean, dflt: "false", readOnly: true,
		doc: "Allow a reloaded key store to change the certificate's SANs."},

	// SASL (SASL_PLAINTEXT and SASL_SSL listeners).
	{name: "sasl.enabled.mechanisms", typ: TypeList, dflt: "GSSAPI", readOnly: true, check: listInFold("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"),
		doc: "SASL mechanisms a SASL listener offers: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER (Kafka's default GSSAPI is refused on a SASL listener: Kerberos is not supported)."},
	{name: "sasl.mechanism.inter.broker.protocol", typ: TypeString, dflt: "GSSAPI", readOnly: true,
		doc: "Mechanism the inter-broker connections (replica fetchers) use on a SASL inter-broker listener: PLAIN or SCRAM-SHA-256/512, with the username and password of that mechanism's JAAS config."},
	{name: "sasl.jaas.config", typ: TypePassword, noDefault: true, readOnly: true,
		doc: "JAAS login config, set per listener and mechanism (listener.name.<l>.<mechanism>.sasl.jaas.config): PlainLoginModule's user_<name>=\"<password>\" options are the PLAIN users, username/password the inter-broker identity; OAuthBearerLoginModule's unsecuredValidator* options tune the unsecured token validator."},
	{name: "sasl.server.callback.handler.class", typ: TypeClass, noDefault: true, check: stringIn("", OAuthBearerValidatorHandler, OAuthBearerUnsecuredValidatorHandler), readOnly: true,
		doc: "For OAUTHBEARER: " + OAuthBearerValidatorHandler + " validates signed JWTs against sasl.oauthbearer.jwks.endpoint.url; unset (or " + OAuthBearerUnsecuredValidatorHandler + "): unsecured JWS tokens, for tests. Other handler classes are refused."},
	{name: "sasl.server.max.receive.size", typ: TypeInt, dflt: "524288", check: atLeast(1), readOnly: true,
		doc: "Largest request accepted before a connection has authenticated (SASL listeners): a larger one closes the connection."},
	{name: "connection.failed.authentication.delay.ms", typ: TypeInt, dflt: "100", check: atLeast(0), readOnly: true,
		doc: "A failed authentication is answered (and its connection closed) after this long, to slow down password guessing."},
	{name: "connections.max.reauth.ms", typ: TypeLong, dflt: "0", check: atLeast(0), readOnly: true,
		doc: "Session lifetime of a SASL authentication (KIP-368): the client must re-authenticate before it, or its connection is closed at its next request. 0: sessions do not expire (except with an OAUTHBEARER token's expiry)."},
	{name: "sasl.oauthbearer.jwks.endpoint.url", typ: TypeString, noDefault: true, readOnly: true,
		doc: "With " + OAuthBearerValidatorHandler + ": the JWKS (JSON Web Key Set) signing keys are read from this URL (http, https or file), and again every sasl.oauthbearer.jwks.endpoint.refresh.ms and when a token names an unknown key id."},
	{name: "sasl.oauthbearer.jwks.endpoint.refresh.ms", typ: TypeLong, dflt: "3600000", check: atLeast(1), readOnly: true,
		doc: "How often the JWKS is read again."},
	{name: "sasl.oauthbearer.expected.audience", typ: TypeList, noDefault: true, readOnly: true,
		doc: "A validated token's aud claim must name one of these."},
	{name: "sasl.oauthbearer.expected.issuer", typ: TypeString, noDefault: true, readOnly: true,
		doc: "A validated token's iss claim must equal this."},
	{name: "sasl.oauthbearer.sub.claim.name", typ: TypeString, dflt: "sub", check: nonEmpty, readOnly: true,
		doc: "Claim holding the principal name of a validated token."},
	{name: "sasl.oauthbearer.scope.claim.name", typ: TypeString, dflt: "scope", check: nonEmpty, readOnly: true,
		doc: "Claim holding a validated token's scopes."},
	{name: "sasl.oauthbearer.clock.skew.seconds", typ: TypeInt, dflt: "30", check: atLeast(0), readOnly: true,
		doc: "Allowed clock difference when checking a token's exp, nbf and iat."},
	{name: "sasl.kerberos.service.name", status: inert, why: whyKerberos, typ: TypeString, noDefault: true, readOnly: true,
		doc: "Kerberos service name."},
	{name: "sasl.kerberos.kinit.cmd", status: inert, why: whyKerberos, typ: TypeString, dflt: "/usr/bin/kinit", readOnly: true,
		doc: "kinit command."},
	{name: "sasl.kerberos.principal.to.local.rules", status: inert, why: whyKerberos, typ: TypeList, dflt: "DEFAULT", readOnly: true,
		doc: "Kerberos principal mapping rules."},
	{name: "sasl.login.callback.handler.class", status: inert, why: whyLoginClient, typ: TypeClass, noDefault: true, readOnly: true,
		doc: "Login callback handler."},
	{name: "sasl.login.class", status: inert, why: whyLoginClient, typ: TypeClass, noDefault: true, readOnly: true,
		doc: "Login class."},
	{name: "principal.builder.class", status: unsupported, why: "custom principal builders", typ: TypeClass, dflt: "org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder", readOnly: true,
		doc: "Builds a connection's principal: User:<SASL name>, User:<mapped certificate DN> or User:ANONYMOUS."},

	// Authorization (acl.go).
	{name: "authorizer.class.name", typ: TypeString, dflt: "", check: stringIn("", StandardAuthorizer, AclAuthorizer), readOnly: true,
		doc: "Authorizer: " + StandardAuthorizer + " (or the older " + AclAuthorizer + ") turns on ACL authorization, with the ACLs stored in etcd (CreateAcls, kafka-acls.sh); empty: every request is allowed. Other classes are refused."},
	{name: "super.users", typ: TypeString, noDefault: true, check: superUsersSyntax, readOnly: true,
		doc: "Semicolon-separated principals (User:admin;User:CN=broker) allowed everything, whatever the ACLs say."},
	{name: "allow.everyone.if.no.acl.found", typ: TypeBoolean, dflt: "false", readOnly: true,
		doc: "With an authorizer, allow access to a resource that no ACL matches (any principal); false: denied."},

	// Client quotas (quota.go).
	{name: "quota.window.num", typ: TypeInt, dflt: "11", check: atLeast(1), readOnly: true,
		doc: "Samples of the client quota rates."},
	{name: "quota.window.size.seconds", typ: TypeInt, dflt: "1", check: atLeast(1), readOnly: true,
		doc: "Length of one sample of the client quota rates."},
	{name: "client.quota.callback.class", status: unsupported, why: "custom quota callbacks", typ: TypeClass, dflt: "", readOnly: true,
		doc: "Custom quota callback."},
}

// The authorizer classes samsa implements (both are the same ACL
// authorizer here; Kafka 4 has only the first).
const (
	StandardAuthorizer = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
	AclAuthorizer      = "kafka.security.authorizer.AclAuthorizer"
)

// The OAUTHBEARER server callback handlers samsa implements.
const (
	OAuthBearerValidatorHandler          = "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"
	OAuthBearerUnsecuredValidatorHandler = "org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler"
)

// stringInFold is stringIn ignoring case (Kafka upper-cases store types
// and mechanisms before comparing).
func stringInFold(allowed ...string) func(string) error {
	return func(v string) error {
		for _, a := range allowed {
			if strings.EqualFold(v, a) {
				return nil
			}
		}
		return fmt.Errorf("string must be one of: %s", strings.Join(allowed, ", "))
	}
}

func listInFold(allowed ...string) func(string) error {
	one := stringInFold(allowed...)
	return func(v string) error {
		for _, it := range splitList(v) {
			if one(it) != nil {
				return fmt.Errorf("invalid value %q in list; allowed values: %s", it, strings.Join(allowed, ", "))
			}
		}
		return nil
	}
}

func principalRulesSyntax(v string) error {
	_, err := ParsePrincipalRules(v)
	return err
}

func superUsersSyntax(v string) error {
	for _, p := range strings.Split(v, ";") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if typ, name, ok := strings.Cut(p, ":"); !ok || typ == "" || name == "" {
			return fmt.Errorf("principal %q is not of the form Type:name (User:admin)", p)
		}
	}
	return nil
}

// mechanismScoped are the properties that may be set for one SASL mechanism
// of one listener: listener.name.<l>.<mechanism>.<property>.
var mechanismScoped = map[string]bool{
	"sasl.jaas.config":                   true,
	"sasl.server.callback.handler.class": true,
	"connections.max.reauth.ms":          true,
	"sasl.login.callback.handler.class":  true,
	"sasl.login.class":                   true,
}

// listenerScoped reports whether a broker property may be set for one
// listener (listener.name.<l>.<property>).
func listenerScoped(name string) bool {
	return strings.HasPrefix(name, "ssl.") || strings.HasPrefix(name, "sasl.") || name == "connections.max.reauth.ms"
}
