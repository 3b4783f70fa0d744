package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// devCertsDir writes a fresh set of dev certificates.
func devCertsDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	if err := DevCerts(dir, nil, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	return dir
}

// clientTLS trusts the dev CA, with the dev client certificate when
// withCert.
func clientTLS(t *testing.T, dir string, withCert bool) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil || !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("CA: %v", err)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	if withCert {
		c, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg
}

func secClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RequestRetries(0), kgo.RetryTimeout(3 * time.Second),
		kgo.ConnIdleTimeout(time.Minute)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// roundTrip produces n records (of size bytes each) to topic through cl
// and reads them back through a fresh consumer made with opts.
func roundTrip(t *testing.T, addr string, cl *kgo.Client, topic string, n, size int, opts ...kgo.Opt) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	val := []byte(strings.Repeat("v", size))
	for i := range n {
		r := &kgo.Record{Topic: topic, Key: []byte{byte(i)}, Value: val}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
	cons := secClient(t, addr, append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond))...)
	got := 0
	for got < n {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d: %v", got, n, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			if len(r.Value) != size {
				t.Fatalf("record of %d bytes, want %d", len(r.Value), size)
			}
			got++
		})
	}
}

const plainJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret" user_bob="bob-secret";`

// TestSecuredListeners runs one broker with the four security protocols
// on four listeners and produces and consumes through each: PLAINTEXT,
// SSL (a PEM key store; records of 64 KiB, so that the fetch copies what
// a plain connection would sendfile), SASL_PLAINTEXT with PLAIN and
// SASL_SSL with SCRAM-SHA-512 (its credential made with
// AlterUserScramCredentials). Metadata answers each client with its
// listener's endpoints.
func TestSecuredListeners(t *testing.T) {
	dir := devCertsDir(t)
	b, _ := startTestBroker(t,
		"listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
		"ssl.keystore.type=PEM",
		"ssl.keystore.location="+filepath.Join(dir, "broker-keystore.pem"),
		"sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config="+plainJAAS,
		"listener.name.sasl_ssl.plain.sasl.jaas.config="+plainJAAS,
	)
	addrs := b.Addrs()
	plainAddr, sslAddr, saslAddr, saslSSLAddr := addrs[0].String(), addrs[1].String(), addrs[2].String(), addrs[3].String()

	admin := kadm.NewClient(secClient(t, plainAddr))
	ctx := adminCtxT(t)
	if _, err := admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "carol-secret"},
		{User: "carol", Mechanism: kadm.ScramSha256, Iterations: 8192, Password: "carol-256"},
	}); err != nil {
		t.Fatal(err)
	}
	described, err := admin.DescribeUserSCRAMs(ctx, "carol")
	if err != nil || len(described["carol"].CredInfos) != 2 || described["carol"].CredInfos[1].Iterations != 4096 {
		t.Fatalf("DescribeUserScramCredentials: %+v %v", described, err)
	}

	for _, tc := range []struct {
		name string
		addr string
		opts []kgo.Opt
	}{
		{"PLAINTEXT", plainAddr, nil},
		{"SSL", sslAddr, []kgo.Opt{kgo.DialTLSConfig(clientTLS(t, dir, false))}},
		{"SASL_PLAINTEXT PLAIN", saslAddr, []kgo.Opt{kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism())}},
		{"SASL_PLAINTEXT SCRAM-SHA-256", saslAddr, []kgo.Opt{kgo.SASL(scram.Auth{User: "carol", Pass: "carol-256"}.AsSha256Mechanism())}},
		{"SASL_SSL SCRAM-SHA-512", saslSSLAddr, []kgo.Opt{kgo.DialTLSConfig(clientTLS(t, dir, false)),
			kgo.SASL(scram.Auth{User: "carol", Pass: "carol-secret"}.AsSha512Mechanism())}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := secClient(t, tc.addr, append(tc.opts, kgo.AllowAutoTopicCreation())...)
			topic := "sec-" + strings.NewReplacer(" ", "-", "_", "-").Replace(strings.ToLower(tc.name))
			roundTrip(t, tc.addr, cl, topic, 20, 64<<10, tc.opts...)
			md, err := kadm.NewClient(cl).BrokerMetadata(context.Background())
			if err != nil || len(md.Brokers) != 1 || md.Brokers[0].Port != int32(mustPort(t, tc.addr)) {
				t.Fatalf("metadata: %+v %v", md.Brokers, err)
			}
		})
	}

	// Wrong credentials are refused with SASL_AUTHENTICATION_FAILED and
	// Kafka's message.
	for _, tc := range []struct {
		name string
		mech kgo.Opt
		msg  string
	}{
		{"PLAIN wrong password", kgo.SASL(plain.Auth{User: "alice", Pass: "nope"}.AsMechanism()), "Invalid username or password"},
		{"PLAIN unknown user", kgo.SASL(plain.Auth{User: "mallory", Pass: "x"}.AsMechanism()), "Invalid username or password"},
		{"SCRAM wrong password", kgo.SASL(scram.Auth{User: "carol", Pass: "nope"}.AsSha512Mechanism()), "invalid credentials with SASL mechanism SCRAM-SHA-512"},
		{"SCRAM unknown user", kgo.SASL(scram.Auth{User: "mallory", Pass: "x"}.AsSha256Mechanism()), "invalid credentials with SASL mechanism SCRAM-SHA-256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := secClient(t, saslAddr, tc.mech)
			err := cl.Ping(context.Background())
			if !errors.Is(err, kerr.SaslAuthenticationFailed) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want SASL_AUTHENTICATION_FAILED with %q", err, tc.msg)
			}
		})
	}

	// A TLS client that does not trust the broker's CA, and a plain client
	// on the TLS listener, get nowhere.
	cl := secClient(t, sslAddr, kgo.DialTLSConfig(&tls.Config{ServerName: "localhost"}))
	if err := cl.Ping(context.Background()); err == nil {
		t.Fatal("a client that does not trust the CA connected")
	}
	cl = secClient(t, sslAddr)
	if err := cl.Ping(context.Background()); err == nil {
		t.Fatal("a plaintext client was served on the SSL listener")
	}
}

func mustPort(t *testing.T, addr string) int {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	n := 0
	for _, c := range addr[i+1:] {
		n = n*10 + int(c-'0')
	}
	return n
}
