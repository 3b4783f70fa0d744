package config

import (
	"crypto/tls"
	"strings"
	"testing"
)

func TestParseJAAS(t *testing.T) {
	j, err := ParseJAAS(`org.apache.kafka.common.security.plain.PlainLoginModule required
		username="admin" password="admin-secret" user_admin="admin-secret" user_alice="al\"ice" bare=word;`)
	if err != nil {
		t.Fatal(err)
	}
	if j.LoginModule != PlainLoginModule || j.Flag != "required" {
		t.Fatalf("module %q flag %q", j.LoginModule, j.Flag)
	}
	want := map[string]string{"username": "admin", "password": "admin-secret", "user_admin": "admin-secret", "user_alice": `al"ice`, "bare": "word"}
	for k, v := range want {
		if j.Options[k] != v {
			t.Errorf("%s = %q, want %q", k, j.Options[k], v)
		}
	}
	for _, bad := range []string{`x required a="b"`, `x maybe a="b";`, `x required a;`, `x required a="b;`} {
		if _, err := ParseJAAS(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestPrincipalRules: Kafka's SslPrincipalMapper examples.
func TestPrincipalRules(t *testing.T) {
	pr, err := ParsePrincipalRules(`RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U, DEFAULT`)
	if err != nil {
		t.Fatal(err)
	}
	for dn, want := range map[string]string{
		"CN=kafka-server1,OU=ServiceUsers,O=org,C=US":          "kafka-server1",
		"CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=L,ST=S,C=US": "duke@javasoft",
		"OU=x,cn=alice.b": "ALICE.B",
		"O=nothing":       "O=nothing",
	} {
		got, err := pr.Apply(dn)
		if err != nil || got != want {
			t.Errorf("%s -> %q, %v; want %q", dn, got, err, want)
		}
	}
	strict, _ := ParsePrincipalRules(`RULE:^CN=(.*)$/$1/`)
	if _, err := strict.Apply("O=x"); err == nil {
		t.Error("no rule applied, yet a principal came out")
	}
	for _, bad := range []string{"RULE:x", "nonsense", "RULE:(/x/"} {
		if _, err := ParsePrincipalRules(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestListenerSecurity(t *testing.T) {
	jaas := `org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="pw";`
	b, err := NewBroker(map[string]string{
		"listeners":                                                      "PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9093,SSL://127.0.0.1:9094",
		"ssl.keystore.location":                                          "/k.p12",
		"ssl.keystore.type":                                              "pkcs12",
		"listener.name.ssl.ssl.client.auth":                              "required",
		"ssl.truststore.location":                                        "/ca.pem",
		"ssl.enabled.protocols":                                          "TLSv1.3",
		"listener.name.sasl_ssl.sasl.enabled.mechanisms":                 "PLAIN,SCRAM-SHA-512",
		"listener.name.sasl_ssl.plain.sasl.jaas.config":                  jaas,
		"listener.name.sasl_ssl.scram-sha-512.connections.max.reauth.ms": "60000",
	})
	if err != nil {
		t.Fatal(err)
	}
	if b.Security["PLAINTEXT"].TLS != nil || b.Security["PLAINTEXT"].SASL != nil {
		t.Error("PLAINTEXT listener has security settings")
	}
	ssl := b.Security["SSL"].TLS
	if ssl.ClientAuth != "required" || ssl.KeystoreType != "PKCS12" || ssl.MinVersion != tls.VersionTLS13 || b.Security["SASL_SSL"].TLS.ClientAuth != "none" {
		t.Errorf("ssl %+v", ssl)
	}
	sasl := b.Security["SASL_SSL"].SASL
	if strings.Join(sasl.Mechanisms, ",") != "PLAIN,SCRAM-SHA-512" || sasl.Mechanism["PLAIN"].JAAS.Options["user_alice"] != "pw" ||
		sasl.Mechanism["SCRAM-SHA-512"].ReauthMs != 60000 || sasl.Mechanism["PLAIN"].ReauthMs != 0 || sasl.MaxReceiveSize != 524288 {
		t.Errorf("sasl %+v", sasl)
	}

	for name, tt := range map[string]struct {
		props map[string]string
		want  string
	}{
		"unknown listener property": {map[string]string{"listener.name.plaintext.foo.bar": "1"}, "unknown listener property"},
		"PLAIN without JAAS":        {map[string]string{"listeners": "SASL_PLAINTEXT://:9092", "sasl.enabled.mechanisms": "PLAIN"}, "samsa does not read JAAS files"},
		"mTLS without trust store":  {map[string]string{"listeners": "SSL://:9092", "ssl.keystore.location": "/k", "ssl.client.auth": "required"}, "trust store"},
		"inline key without PEM":    {map[string]string{"listeners": "SSL://:9092", "ssl.keystore.key": "k", "ssl.keystore.certificate.chain": "c"}, "ssl.keystore.type=PEM"},
		"TLS 1.1":                   {map[string]string{"ssl.enabled.protocols": "TLSv1.1"}, "ssl.enabled.protocols"},
		"inter-broker mechanism":    {map[string]string{"listeners": "SASL_PLAINTEXT://:9092", "sasl.enabled.mechanisms": "SCRAM-SHA-256"}, "sasl.mechanism.inter.broker.protocol must be included"},
		"JWKS without URL": {map[string]string{"listeners": "SASL_PLAINTEXT://:9092", "sasl.enabled.mechanisms": "OAUTHBEARER", "sasl.mechanism.inter.broker.protocol": "OAUTHBEARER",
			"listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class": OAuthBearerValidatorHandler}, "jwks.endpoint.url"},
		"bad cipher":     {map[string]string{"ssl.cipher.suites": "TLS_RSA_WITH_RC4_128_SHA"}, "cipher suite"},
		"bad super user": {map[string]string{"super.users": "alice"}, "Type:name"},
	} {
		if _, err := NewBroker(tt.props); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tt.want)
		}
	}
}
