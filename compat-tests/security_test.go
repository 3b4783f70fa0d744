package compat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	kafkago "github.com/segmentio/kafka-go"
	kgsasl "github.com/segmentio/kafka-go/sasl"
	kgplain "github.com/segmentio/kafka-go/sasl/plain"
	kgscram "github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	xscram "github.com/xdg-go/scram"
)

// Security against the real binary: one samsa with every listener type
// (PLAINTEXT, SSL, SSL with required client certificates, SASL_PLAINTEXT
// and SASL_SSL) and every mechanism (PLAIN from the JAAS config,
// SCRAM-SHA-256/512 created with kafka-configs.sh, OAUTHBEARER with
// unsecured tokens), and every client producing and consuming through each
// (matrix columns sec-*). sec-bad-password passes when a wrong password is
// refused with SASL_AUTHENTICATION_FAILED. A client that has no such
// mechanism leaves its cell empty (kafka-go has no OAUTHBEARER).

const secRecords = 5

// secCase is one matrix column: a listener and how to authenticate.
type secCase struct {
	col        string
	addr       string
	protocol   string // SSL, SASL_PLAINTEXT, SASL_SSL
	mech       string // "" (SSL), PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER
	user, pass string
	clientCert bool
	wantFail   bool // a wrong password: it must be refused
}

func (c secCase) tls() bool  { return c.protocol == "SSL" || c.protocol == "SASL_SSL" }
func (c secCase) sasl() bool { return strings.HasPrefix(c.protocol, "SASL_") }

type secEnv struct {
	certs  string // samsa tls dev-certs output
	plain  string // PLAINTEXT address (set-up)
	cases  []secCase
	caPool *x509.CertPool
}

// unsecuredToken is an OAUTHBEARER token Kafka's unsecured validator takes.
func unsecuredToken(sub string) string {
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	return enc(map[string]string{"alg": "none"}) + "." + enc(map[string]any{"sub": sub, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}) + "."
}

const secJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`

// startSecuredSamsa starts the broker of the security tests; extra are
// more --override values.
func startSecuredSamsa(t *testing.T, extra ...string) (*Samsa, *secEnv) {
	t.Helper()
	bin := samsaBinary(t)
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	if out, err := exec.Command(bin, "tls", "dev-certs", certs).CombinedOutput(); err != nil {
		t.Fatalf("samsa tls dev-certs: %v: %s", err, out)
	}
	ports := []int{freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	listeners := fmt.Sprintf("PLAINTEXT://%s,SSL://%s,MTLS://%s,SASL_PLAINTEXT://%s,SASL_SSL://%s", addr(0), addr(1), addr(2), addr(3), addr(4))
	var args []string
	for _, o := range append([]string{
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
		"ssl.keystore.type=PKCS12",
		"ssl.keystore.location=" + filepath.Join(certs, "broker.p12"),
		"ssl.keystore.password=changeit",
		"ssl.truststore.location=" + filepath.Join(certs, "truststore.p12"),
		"ssl.truststore.password=changeit",
		"listener.name.mtls.ssl.client.auth=required",
		"sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER",
		"sasl.mechanism.inter.broker.protocol=PLAIN",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config=" + secJAAS,
		"listener.name.sasl_ssl.plain.sasl.jaas.config=" + secJAAS,
	}, extra...) {
		args = append(args, "--override", o)
	}
	s := newSamsa(t, dir, ports[0], listeners, args)
	s.Start()
	ca, _ := os.ReadFile(filepath.Join(certs, "ca.pem"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	env := &secEnv{certs: certs, plain: addr(0), caPool: pool, cases: []secCase{
		{col: "sec-ssl", addr: addr(1), protocol: "SSL"},
		{col: "sec-mtls", addr: addr(2), protocol: "SSL", clientCert: true},
		{col: "sec-sasl-plain", addr: addr(3), protocol: "SASL_PLAINTEXT", mech: "PLAIN", user: "alice", pass: "alice-secret"},
		{col: "sec-sasl-scram-sha-256", addr: addr(3), protocol: "SASL_PLAINTEXT", mech: "SCRAM-SHA-256", user: "carol", pass: "carol-secret"},
		{col: "sec-sasl-scram-sha-512", addr: addr(3), protocol: "SASL_PLAINTEXT", mech: "SCRAM-SHA-512", user: "carol", pass: "carol-secret"},
		{col: "sec-sasl-oauthbearer", addr: addr(3), protocol: "SASL_PLAINTEXT", mech: "OAUTHBEARER", user: "dave"},
		{col: "sec-sasl-ssl-plain", addr: addr(4), protocol: "SASL_SSL", mech: "PLAIN", user: "alice", pass: "alice-secret"},
		{col: "sec-sasl-ssl-scram-sha-512", addr: addr(4), protocol: "SASL_SSL", mech: "SCRAM-SHA-512", user: "carol", pass: "carol-secret"},
		{col: "sec-bad-password", addr: addr(3), protocol: "SASL_PLAINTEXT", mech: "PLAIN", user: "alice", pass: "wrong", wantFail: true},
	}}
	return s, env
}

// secClientFuncs: each client's round trip (produce secRecords to topic
// and read them back) through one case; nil when the client cannot do it.
type secRoundTrip func(ctx context.Context, env *secEnv, c secCase, topic string) error

// secValues are the records of a round trip.
func secValues(topic string) []string {
	out := make([]string, secRecords)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", topic, i)
	}
	return out
}

func checkValues(topic string, got []string) error {
	want := secValues(topic)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		return fmt.Errorf("consumed %v, want %v", got, want)
	}
	return nil
}

// authRefused checks that err is an authentication failure (for
// sec-bad-password), in whichever words the client puts it.
func authRefused(err error) error {
	if err == nil {
		return errors.New("a wrong password was accepted")
	}
	s := strings.ToLower(err.Error())
	for _, w := range []string{"sasl_authentication_failed", "authentication failed", "invalid username or password", "sasl authentication", "saslauthenticationfailed"} {
		if strings.Contains(s, w) {
			return nil
		}
	}
	return fmt.Errorf("refused, but not as an authentication failure: %v", err)
}

func (env *secEnv) tlsConfig(c secCase) *tls.Config {
	cfg := &tls.Config{RootCAs: env.caPool, ServerName: "localhost"}
	if c.clientCert {
		cert, _ := tls.LoadX509KeyPair(filepath.Join(env.certs, "client.pem"), filepath.Join(env.certs, "client.key"))
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg
}

// ---- franz-go ----

func franzSecOpts(env *secEnv, c secCase) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(c.addr), kgo.RequestRetries(2), kgo.RetryTimeout(5 * time.Second)}
	if c.tls() {
		opts = append(opts, kgo.DialTLSConfig(env.tlsConfig(c)))
	}
	var m sasl.Mechanism
	switch c.mech {
	case "PLAIN":
		m = plain.Auth{User: c.user, Pass: c.pass}.AsMechanism()
	case "SCRAM-SHA-256":
		m = scram.Auth{User: c.user, Pass: c.pass}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		m = scram.Auth{User: c.user, Pass: c.pass}.AsSha512Mechanism()
	case "OAUTHBEARER":
		m = oauth.Auth{Token: unsecuredToken(c.user)}.AsMechanism()
	}
	if m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts
}

func franzSecRoundTrip(ctx context.Context, env *secEnv, c secCase, topic string) error {
	cl, err := kgo.NewClient(append(franzSecOpts(env, c), kgo.DefaultProduceTopic(topic))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if c.wantFail {
		return authRefused(cl.Ping(ctx))
	}
	for _, v := range secValues(topic) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
	}
	cons, err := kgo.NewClient(append(franzSecOpts(env, c), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		return err
	}
	defer cons.Close()
	var got []string
	for len(got) < secRecords {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("consumed %d of %d", len(got), secRecords)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return fmt.Errorf("fetch: %v", errs[0].Err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return checkValues(topic, got)
}

// ---- kafka-go ----

func kafkagoSecMechanism(c secCase) (kgsasl.Mechanism, error) {
	switch c.mech {
	case "PLAIN":
		return kgplain.Mechanism{Username: c.user, Password: c.pass}, nil
	case "SCRAM-SHA-256":
		return kgscram.Mechanism(kgscram.SHA256, c.user, c.pass)
	case "SCRAM-SHA-512":
		return kgscram.Mechanism(kgscram.SHA512, c.user, c.pass)
	}
	return nil, nil
}

func kafkagoSecRoundTrip(ctx context.Context, env *secEnv, c secCase, topic string) error {
	mech, err := kafkagoSecMechanism(c)
	if err != nil {
		return err
	}
	tr := &kafkago.Transport{SASL: mech}
	d := &kafkago.Dialer{Timeout: 10 * time.Second, SASLMechanism: mech}
	if c.tls() {
		tr.TLS, d.TLS = env.tlsConfig(c), env.tlsConfig(c)
	}
	w := &kafkago.Writer{Addr: kafkago.TCP(c.addr), Topic: topic, Transport: tr, BatchTimeout: 10 * time.Millisecond, RequiredAcks: kafkago.RequireAll}
	defer w.Close()
	var msgs []kafkago.Message
	for _, v := range secValues(topic) {
		msgs = append(msgs, kafkago.Message{Value: []byte(v)})
	}
	err = w.WriteMessages(ctx, msgs...)
	if c.wantFail {
		return authRefused(err)
	}
	if err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{c.addr}, Topic: topic, Partition: 0, MaxWait: 200 * time.Millisecond, Dialer: d})
	defer r.Close()
	var got []string
	for len(got) < secRecords {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return fmt.Errorf("consume: %w", err)
		}
		got = append(got, string(m.Value))
	}
	return checkValues(topic, got)
}

// ---- sarama ----

// saramaSCRAM adapts xdg-go/scram to sarama's SCRAMClient.
type saramaSCRAM struct {
	hash func() hash.Hash
	conv *xscram.ClientConversation
}

func (s *saramaSCRAM) Begin(user, pass, authz string) error {
	cl, err := xscram.HashGeneratorFcn(s.hash).NewClient(user, pass, authz)
	if err != nil {
		return err
	}
	s.conv = cl.NewConversation()
	return nil
}
func (s *saramaSCRAM) Step(challenge string) (string, error) { return s.conv.Step(challenge) }
func (s *saramaSCRAM) Done() bool                            { return s.conv.Done() }

type saramaToken string

func (t saramaToken) Token() (*sarama.AccessToken, error) {
	return &sarama.AccessToken{Token: string(t)}, nil
}

func saramaSecConfig(env *secEnv, c secCase) *sarama.Config {
	cfg := saramaConfig()
	cfg.Net.DialTimeout = 10 * time.Second
	cfg.Metadata.Retry.Max = 2
	if c.tls() {
		cfg.Net.TLS.Enable, cfg.Net.TLS.Config = true, env.tlsConfig(c)
	}
	if c.sasl() {
		cfg.Net.SASL.Enable, cfg.Net.SASL.Handshake = true, true
		cfg.Net.SASL.User, cfg.Net.SASL.Password = c.user, c.pass
		cfg.Net.SASL.Mechanism = sarama.SASLMechanism(c.mech)
		switch c.mech {
		case "SCRAM-SHA-256":
			cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &saramaSCRAM{hash: sha256.New} }
		case "SCRAM-SHA-512":
			cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &saramaSCRAM{hash: sha512.New} }
		case "OAUTHBEARER":
			cfg.Net.SASL.TokenProvider = saramaToken(unsecuredToken(c.user))
		}
	}
	return cfg
}

func saramaSecRoundTrip(ctx context.Context, env *secEnv, c secCase, topic string) error {
	cfg := saramaSecConfig(env, c)
	p, err := sarama.NewSyncProducer([]string{c.addr}, cfg)
	if c.wantFail {
		if err == nil {
			_, _, err = p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("x")})
			p.Close()
		}
		return authRefused(err)
	}
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	defer p.Close()
	for _, v := range secValues(topic) {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(v)}); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
	}
	cons, err := sarama.NewConsumer([]string{c.addr}, cfg)
	if err != nil {
		return err
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		return err
	}
	defer pc.Close()
	var got []string
	for len(got) < secRecords {
		select {
		case m := <-pc.Messages():
			got = append(got, string(m.Value))
		case e := <-pc.Errors():
			return e
		case <-ctx.Done():
			return fmt.Errorf("consumed %d of %d", len(got), secRecords)
		}
	}
	return checkValues(topic, got)
}

// ---- librdkafka (confluent-kafka-go, kcat, Python) ----

// rdkafkaProps are librdkafka's properties for a case.
func rdkafkaProps(env *secEnv, c secCase) map[string]string {
	m := map[string]string{"security.protocol": strings.ToLower(c.protocol)}
	if c.tls() {
		m["ssl.ca.location"] = filepath.Join(env.certs, "ca.pem")
		if c.clientCert {
			m["ssl.certificate.location"] = filepath.Join(env.certs, "client.pem")
			m["ssl.key.location"] = filepath.Join(env.certs, "client.key")
		}
	}
	if c.sasl() {
		m["sasl.mechanisms"] = c.mech
		if c.mech == "OAUTHBEARER" {
			m["enable.sasl.oauthbearer.unsecure.jwt"] = "true"
			m["sasl.oauthbearer.config"] = "principal=" + c.user
		} else {
			m["sasl.username"], m["sasl.password"] = c.user, c.pass
		}
	}
	return m
}

func confluentSecRoundTrip(ctx context.Context, env *secEnv, c secCase, topic string) error {
	extra := kafka.ConfigMap{}
	for k, v := range rdkafkaProps(env, c) {
		extra[k] = v
	}
	p, err := kafka.NewProducer(confluentConfig(c.addr, extra))
	if err != nil {
		return err
	}
	defer p.Close()
	if c.wantFail {
		_, err := p.GetMetadata(&topic, false, 10000)
		for len(p.Events()) > 0 {
			if e, ok := (<-p.Events()).(kafka.Error); ok && e.Code() == kafka.ErrAuthentication {
				return authRefused(e)
			}
		}
		return authRefused(err)
	}
	for _, v := range secValues(topic) {
		dr := make(chan kafka.Event, 1)
		if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0}, Value: []byte(v)}, dr); err != nil {
			return err
		}
		select {
		case e := <-dr:
			if m := e.(*kafka.Message); m.TopicPartition.Error != nil {
				return fmt.Errorf("produce: %w", m.TopicPartition.Error)
			}
		case <-ctx.Done():
			return errors.New("produce timed out")
		}
	}
	extra["group.id"] = topic + ".g"
	extra["auto.offset.reset"] = "earliest"
	cons, err := kafka.NewConsumer(confluentConfig(c.addr, extra))
	if err != nil {
		return err
	}
	defer cons.Close()
	if err := cons.Assign([]kafka.TopicPartition{{Topic: &topic, Partition: 0, Offset: kafka.OffsetBeginning}}); err != nil {
		return err
	}
	var got []string
	for len(got) < secRecords {
		if ctx.Err() != nil {
			return fmt.Errorf("consumed %d of %d", len(got), secRecords)
		}
		m, err := cons.ReadMessage(time.Second)
		if err != nil {
			if ke, ok := err.(kafka.Error); ok && ke.IsTimeout() {
				continue
			}
			return err
		}
		got = append(got, string(m.Value))
	}
	return checkValues(topic, got)
}

func kcatSecArgs(env *secEnv, c secCase) []string {
	args := []string{"-b", c.addr}
	for k, v := range rdkafkaProps(env, c) {
		args = append(args, "-X", k+"="+v)
	}
	return args
}

func kcatSecRoundTrip(ctx context.Context, env *secEnv, c secCase, topic string) error {
	args := kcatSecArgs(env, c)
	if c.wantFail {
		_, stderr, err := runKcat(ctx, "", append(args, "-L", "-m", "10")...)
		if err == nil {
			return errors.New("kcat -L: a wrong password was accepted")
		}
		return authRefused(errors.New(stderr))
	}
	in := strings.Join(secValues(topic), "\n") + "\n"
	_, _, err := runKcat(ctx, in, append(args, "-P", "-t", topic, "-p", "0")...)
	if err != nil {
		return err
	}
	out, _, err := runKcat(ctx, "", append(args, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-c", strconv.Itoa(secRecords), "-e", "-f", "%s\n")...)
	if err != nil {
		return err
	}
	return checkValues(topic, strings.Fields(out))
}

func pythonSecRoundTrip(ctx context.Context, env *secEnv, c secCase, topic string) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	py := filepath.Join(root, "compat-tests", "python", ".venv", "bin", "python")
	conf := map[string]string{"bootstrap.servers": c.addr}
	for k, v := range rdkafkaProps(env, c) {
		conf[k] = v
	}
	arg, _ := json.Marshal(map[string]any{"conf": conf, "topic": topic, "values": secValues(topic), "want_fail": c.wantFail})
	ctx, cancel := context.WithTimeout(ctx, toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, filepath.Join(root, "compat-tests", "python", "security_roundtrip.py"), string(arg))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("security_roundtrip.py: %v: %s", err, lastLines(out.String(), 3))
	}
	return nil
}

// ---- Kafka's Java client (its console tools) ----

func javaSecProps(env *secEnv, c secCase) string {
	var b strings.Builder
	fmt.Fprintf(&b, "security.protocol=%s\n", c.protocol)
	if c.tls() {
		fmt.Fprintf(&b, "ssl.truststore.location=%s\nssl.truststore.password=changeit\nssl.truststore.type=PKCS12\n", filepath.Join(env.certs, "truststore.p12"))
		if c.clientCert {
			fmt.Fprintf(&b, "ssl.keystore.location=%s\nssl.keystore.password=changeit\nssl.keystore.type=PKCS12\n", filepath.Join(env.certs, "client.p12"))
		}
	}
	if c.sasl() {
		fmt.Fprintf(&b, "sasl.mechanism=%s\n", c.mech)
		switch c.mech {
		case "PLAIN":
			fmt.Fprintf(&b, "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"%s\" password=\"%s\";\n", c.user, c.pass)
		case "SCRAM-SHA-256", "SCRAM-SHA-512":
			fmt.Fprintf(&b, "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"%s\" password=\"%s\";\n", c.user, c.pass)
		case "OAUTHBEARER":
			fmt.Fprintf(&b, "sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"%s\";\n", c.user)
		}
	}
	return b.String()
}

func javaSecRoundTrip(kt *kafkaTools) secRoundTrip {
	return func(ctx context.Context, env *secEnv, c secCase, topic string) error {
		props := filepath.Join(env.certs, topic+".properties")
		if err := os.WriteFile(props, []byte(javaSecProps(env, c)+"request.timeout.ms=10000\ndefault.api.timeout.ms=15000\nmax.block.ms=15000\n"), 0o600); err != nil {
			return err
		}
		in := strings.Join(secValues(topic), "\n") + "\n"
		_, stderr, err := kt.run(ctx, in, clsProducer, "--bootstrap-server", c.addr, "--topic", topic, "--command-config", props)
		if c.wantFail {
			if err == nil && !strings.Contains(stderr, "SaslAuthenticationException") {
				return errors.New("console producer: a wrong password was accepted")
			}
			return nil
		}
		if err != nil {
			return err
		}
		if strings.Contains(stderr, "Exception") {
			return fmt.Errorf("console producer: %s", lastLines(stderr, 3))
		}
		out, _, err := kt.run(ctx, "", clsConsumer, "--bootstrap-server", c.addr, "--topic", topic, "--from-beginning",
			"--max-messages", strconv.Itoa(secRecords), "--timeout-ms", "20000", "--command-config", props)
		if err != nil {
			return err
		}
		return checkValues(topic, strings.Fields(out))
	}
}

// TestSecurityMatrix: every client through every listener type and
// mechanism.
func TestSecurityMatrix(t *testing.T) {
	_, env := startSecuredSamsa(t)
	kt, ktErr := newKafkaTools(t)

	// SCRAM credentials, as Kafka users make them: kafka-configs.sh.
	t.Run("scram-credentials", func(t *testing.T) {
		if ktErr != nil {
			t.Fatalf("kafka-configs.sh: %v", ktErr)
		}
		ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
		defer cancel()
		if _, _, err := kt.run(ctx, "", clsConfigs, "--bootstrap-server", env.plain, "--alter", "--entity-type", "users", "--entity-name", "carol",
			"--add-config", "SCRAM-SHA-256=[iterations=8192,password=carol-secret],SCRAM-SHA-512=[password=carol-secret]"); err != nil {
			t.Fatal(err)
		}
		out, _, err := kt.run(ctx, "", clsConfigs, "--bootstrap-server", env.plain, "--describe", "--entity-type", "users", "--entity-name", "carol")
		if err != nil || !strings.Contains(out, "SCRAM-SHA-256=iterations=8192") || !strings.Contains(out, "SCRAM-SHA-512=iterations=4096") {
			t.Fatalf("kafka-configs --describe users: %v\n%s", err, out)
		}
	})

	clients := []struct {
		name string
		rt   secRoundTrip
		skip map[string]bool // columns the client has no means for
	}{
		{franzClient, franzSecRoundTrip, nil},
		{kafkagoClient, kafkagoSecRoundTrip, map[string]bool{"sec-sasl-oauthbearer": true}},
		{saramaClient, saramaSecRoundTrip, nil},
		{confluentClient, confluentSecRoundTrip, nil},
		{kcatClient, kcatSecRoundTrip, nil},
		{"python-confluent-kafka", pythonSecRoundTrip, nil},
	}
	if ktErr == nil {
		clients = append(clients, struct {
			name string
			rt   secRoundTrip
			skip map[string]bool
		}{"java-kafka-clients", javaSecRoundTrip(kt), nil})
	} else {
		for _, c := range env.cases {
			record("java-kafka-clients", c.col, ktErr)
		}
		t.Errorf("java: %v", ktErr)
	}
	for _, cl := range clients {
		setBudget(cl.name, 150*time.Second)
		for _, c := range env.cases {
			if cl.skip[c.col] {
				continue
			}
			runScenario(t, cl.name, c.col, func(ctx context.Context, t *testing.T) error {
				topic := strings.NewReplacer(".", "-").Replace(topicName(cl.name, c.col))
				if err := fxCreateTopic(ctx, env.plain, topic, 1, nil); err != nil {
					return err
				}
				return cl.rt(ctx, env, c, topic)
			})
		}
	}
}
