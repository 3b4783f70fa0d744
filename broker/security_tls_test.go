package broker

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/broker/config"
)

// encryptPKCS8 writes key (PEM PKCS#8) as an ENCRYPTED PRIVATE KEY with
// PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), as openssl pkcs8 -topk8 -v2
// aes-256-cbc does.
func encryptPKCS8(t *testing.T, keyPEM []byte, password string) []byte {
	t.Helper()
	blk, _ := pem.Decode(keyPEM)
	salt, iv := make([]byte, 16), make([]byte, 16)
	rand.Read(salt)
	rand.Read(iv)
	key, _ := pbkdf2.Key(sha256.New, password, salt, 2048, 32)
	pad := 16 - len(blk.Bytes)%16
	data := append(append([]byte{}, blk.Bytes...), []byte(strings.Repeat(string(rune(pad)), pad))...)
	c, _ := aes.NewCipher(key)
	cipher.NewCBCEncrypter(c, iv).CryptBlocks(data, data)
	type algo struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue
	}
	raw := func(v any) asn1.RawValue {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return asn1.RawValue{FullBytes: b}
	}
	kdf := raw(struct {
		Salt       []byte
		Iterations int
		PRF        struct {
			Algorithm asn1.ObjectIdentifier
			Null      asn1.RawValue
		}
	}{salt, 2048, struct {
		Algorithm asn1.ObjectIdentifier
		Null      asn1.RawValue
	}{oidHMACSHA256, asn1.NullRawValue}})
	params := raw(struct{ KDF, Scheme algo }{algo{oidPBKDF2, kdf}, algo{oidAES256CBC, raw(iv)}})
	der, err := asn1.Marshal(struct {
		Algo algo
		Data []byte
	}{algo{oidPBES2, params}, data})
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})
}

// TestKeyStoreFormats: a TLS listener starts from every key store form
// Kafka users configure (PEM file, inline PEM, encrypted PKCS#8 PEM,
// PKCS12, JKS) and serves a TLS client; a wrong password refuses the start.
func TestKeyStoreFormats(t *testing.T) {
	dir := devCertsDir(t)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	enc := filepath.Join(dir, "broker-encrypted.pem")
	os.WriteFile(enc, append(encryptPKCS8(t, []byte(read("broker.key")), "keypass"), read("broker.pem")...), 0o600)
	for _, tc := range []struct {
		name  string
		props []string
	}{
		{"PEM file", []string{"ssl.keystore.type=PEM", "ssl.keystore.location=" + filepath.Join(dir, "broker-keystore.pem")}},
		{"PEM sniffed", []string{"ssl.keystore.location=" + filepath.Join(dir, "broker-keystore.pem")}},
		{"PEM inline", []string{"ssl.keystore.type=PEM", "ssl.keystore.key=" + read("broker.key"), "ssl.keystore.certificate.chain=" + read("broker.pem")}},
		{"PEM encrypted PKCS#8", []string{"ssl.keystore.type=PEM", "ssl.keystore.location=" + enc, "ssl.key.password=keypass"}},
		{"PKCS12", []string{"ssl.keystore.type=PKCS12", "ssl.keystore.location=" + filepath.Join(dir, "broker.p12"), "ssl.keystore.password=" + DevCertsPassword}},
		{"JKS", []string{"ssl.keystore.type=JKS", "ssl.keystore.location=" + filepath.Join(dir, "broker.jks"), "ssl.keystore.password=" + DevCertsPassword}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startTestBroker(t, append([]string{"listeners=SSL://127.0.0.1:0"}, tc.props...)...)
			cl := secClient(t, addr, kgo.DialTLSConfig(clientTLS(t, dir, false)))
			if err := cl.Ping(context.Background()); err != nil {
				t.Fatalf("TLS client: %v", err)
			}
		})
	}
	for _, tc := range []struct {
		name, want string
		props      []string
	}{
		{"PKCS12 wrong password", "PKCS12", []string{"ssl.keystore.type=PKCS12", "ssl.keystore.location=" + filepath.Join(dir, "broker.p12"), "ssl.keystore.password=wrong"}},
		{"JKS wrong password", "JKS", []string{"ssl.keystore.type=JKS", "ssl.keystore.location=" + filepath.Join(dir, "broker.jks"), "ssl.keystore.password=wrong"}},
		{"encrypted PEM without password", "ssl.key.password", []string{"ssl.keystore.type=PEM", "ssl.keystore.location=" + enc}},
		{"encrypted PEM wrong password", "wrong ssl.key.password", []string{"ssl.keystore.type=PEM", "ssl.keystore.location=" + enc, "ssl.key.password=nope"}},
		{"missing file", "no such file", []string{"ssl.keystore.location=/nonexistent/ks.p12"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := tryStartBroker(t, t.TempDir(), append([]string{"listeners=SSL://127.0.0.1:0"}, tc.props...)...)
			if !errors.Is(err, ErrTLSConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("start: %v, want ErrTLSConfig mentioning %q", err, tc.want)
			}
		})
	}
}

// TestMutualTLS: with ssl.client.auth=required a client without a
// certificate is refused and one with a certificate the trust store
// verifies is served; its principal is the certificate's DN mapped by
// ssl.principal.mapping.rules (seen through the authorizer: only
// User:client may write); with requested, a client without a
// certificate is served as User:ANONYMOUS.
func TestMutualTLS(t *testing.T) {
	dir := devCertsDir(t)
	b, _ := startTestBroker(t,
		"listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,MTLSOPT://127.0.0.1:0",
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,MTLSOPT:SSL",
		"ssl.keystore.location="+filepath.Join(dir, "broker.p12"), "ssl.keystore.type=PKCS12", "ssl.keystore.password="+DevCertsPassword,
		"ssl.truststore.location="+filepath.Join(dir, "truststore.jks"), "ssl.truststore.password="+DevCertsPassword,
		"listener.name.ssl.ssl.client.auth=required",
		"listener.name.mtlsopt.ssl.client.auth=requested",
		`ssl.principal.mapping.rules=RULE:^CN=([^,]+),O=samsa$/$1/L,DEFAULT`,
		"authorizer.class.name="+config.StandardAuthorizer,
		"super.users=User:ANONYMOUS",
	)
	addrs := b.Addrs()
	plainAddr, sslAddr, optAddr := addrs[0].String(), addrs[1].String(), addrs[2].String()
	// The PLAINTEXT listener's ANONYMOUS is a super user: it sets up.
	admin := kadm.NewClient(secClient(t, plainAddr))
	ctx := adminCtxT(t)
	if _, err := admin.CreateTopic(ctx, 1, 1, nil, "mtls"); err != nil {
		t.Fatal(err)
	}
	acl := kadm.NewACLs().Allow("User:client").Topics("mtls").Operations(kadm.OpWrite, kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
	if res, err := admin.CreateACLs(ctx, acl); err != nil || res[0].Err != nil {
		t.Fatalf("CreateACLs: %v %+v", err, res)
	}

	if err := secClient(t, sslAddr, kgo.DialTLSConfig(clientTLS(t, dir, false))).Ping(context.Background()); err == nil {
		t.Fatal("a client without a certificate was served with ssl.client.auth=required")
	}
	withCert := secClient(t, sslAddr, kgo.DialTLSConfig(clientTLS(t, dir, true)), kgo.DefaultProduceTopic("mtls"))
	if err := withCert.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("User:client produce: %v", err)
	}
	// Without a certificate on the requested listener: ANONYMOUS, a super
	// user here, so it may produce too; the certificate's principal may
	// not write another topic.
	anon := secClient(t, optAddr, kgo.DialTLSConfig(clientTLS(t, dir, false)), kgo.DefaultProduceTopic("mtls"))
	if err := anon.ProduceSync(ctx, &kgo.Record{Value: []byte("y")}).FirstErr(); err != nil {
		t.Fatalf("ANONYMOUS produce: %v", err)
	}
	if _, err := admin.CreateTopic(ctx, 1, 1, nil, "other"); err != nil {
		t.Fatal(err)
	}
	err := withCert.ProduceSync(ctx, &kgo.Record{Topic: "other", Value: []byte("z")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("User:client producing to other: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
}

// TestSecuredReplication: two brokers whose inter-broker listener is
// SASL_SSL (TLS verified against the trust store, SCRAM-SHA-512 with the
// JAAS username and password): a follower replicates over it, so an
// acks=all produce to a two-replica partition is committed and the
// follower's log holds the record.
func TestSecuredReplication(t *testing.T) {
	dir := devCertsDir(t)
	jaas := `org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="broker-secret";`
	c := newTestCluster(t, []int32{1, 2},
		"listeners=PLAINTEXT://127.0.0.1:0,REPL://127.0.0.1:0",
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,REPL:SASL_SSL",
		"inter.broker.listener.name=REPL",
		"ssl.keystore.location="+filepath.Join(dir, "broker.jks"), "ssl.keystore.password="+DevCertsPassword,
		"ssl.truststore.location="+filepath.Join(dir, "truststore.pem"),
		"sasl.enabled.mechanisms=SCRAM-SHA-512", "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
		"listener.name.repl.scram-sha-512.sasl.jaas.config="+jaas,
	)
	ctx := adminCtxT(t)
	admin := kadm.NewClient(secClient(t, c.addrs[1]))
	if _, err := admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "broker", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "broker-secret"}}); err != nil {
		t.Fatal(err)
	}
	c.createAssigned(1, "repl", [][]int32{{1, 2}}, map[string]string{"min.insync.replicas": "2"})
	waitFor(t, "a leader", func() bool { return c.leaderOf("repl", 0) > 0 })
	leader := c.leaderOf("repl", 0)
	cl := secClient(t, c.addrs[leader], kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic("repl"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RetryTimeout(20*time.Second), kgo.RequestRetries(20))
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("replicated")}).FirstErr(); err != nil {
		t.Fatalf("acks=all produce with min.insync.replicas=2: %v", err)
	}
	follower := int32(3 - leader)
	waitFor(t, "the follower's copy", func() bool {
		p := c.brokers[follower].hosted("repl", 0)
		return p != nil && p.log.LogEndOffset() == 1
	})
}
