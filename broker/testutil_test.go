package broker

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/samsa-io/samsa/broker/config"
)

// startTestBroker starts an in-process broker on a free loopback port with an
// embedded etcd and a temporary data dir, and closes it when the test ends.
// overrides are "key=value" broker properties.
func startTestBroker(t *testing.T, overrides ...string) (*Broker, string) {
	t.Helper()
	return startTestBrokerIn(t, t.TempDir(), overrides...)
}

// startTestBrokerIn is startTestBroker on a given data dir (restart tests).
// The caller may Close the broker early; Close is idempotent.
func startTestBrokerIn(t *testing.T, dir string, overrides ...string) (*Broker, string) {
	t.Helper()
	props := map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0",
		"log.dirs":  dir,
		// Fast first rebalances (the default, Kafka's 3 s, batches
		// consumers that start together); a test may set it.
		"group.initial.rebalance.delay.ms": "0",
	}
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			t.Fatalf("bad override %q", o)
		}
		props[k] = v
	}
	cfg, err := config.NewBroker(props)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logger := zerolog.Nop()
	if os.Getenv("SAMSA_TEST_LOG") != "" {
		logger = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Logger()
	}
	b, err := New(cfg, logger)
	if err != nil {
		t.Fatalf("new broker: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b, b.Addrs()[0].String()
}
