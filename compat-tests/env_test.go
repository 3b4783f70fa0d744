package compat

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaEnvironmentVariables starts the real binary with the variables
// a Kafka image's environment carries: KAFKA_* properties are applied,
// the images' own variables (KAFKA_HEAP_OPTS, KAFKA_OPTS, ...) skipped,
// and a KAFKA_* variable naming no property samsa knows gets a warn line
// instead of a refusal to start.
func TestKafkaEnvironmentVariables(t *testing.T) {
	if os.Getenv(externalBrokerEnv) != "" {
		t.Skip("needs its own broker process")
	}
	t.Setenv("KAFKA_HEAP_OPTS", "-Xmx1G -Xms1G")
	t.Setenv("KAFKA_OPTS", "-javaagent:/opt/agent.jar")
	t.Setenv("KAFKA_JMX_OPTS", "-Dcom.sun.management.jmxremote")
	t.Setenv("KAFKA_LOG4J_OPTS", "-Dlog4j.configuration=file:/etc/kafka/log4j.properties")
	t.Setenv("KAFKA_VERSION", "4.4.0")
	t.Setenv("KAFKA_PATH", "/opt/kafka") // refused start-up before (issue 11)
	t.Setenv("KAFKA_SAMSA_NO_SUCH_PROPERTY", "1")
	t.Setenv("KAFKA_LOG_RETENTION_MS", "3600000")
	s := StartSamsa(t)

	warned := logLinesMatching(s.Lines(), "environment variable names no broker property")
	if len(warned) != 1 || !strings.Contains(warned[0], "KAFKA_SAMSA_NO_SUCH_PROPERTY") {
		t.Errorf("warn lines about unknown variables: %q, want one naming KAFKA_SAMSA_NO_SUCH_PROPERTY", warned)
	}
	for _, l := range s.Lines() {
		for _, v := range []string{"KAFKA_HEAP_OPTS", "KAFKA_OPTS", "KAFKA_JMX_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_VERSION", "KAFKA_PATH"} {
			if strings.Contains(l, v) && strings.Contains(l, `"warn"`) {
				t.Errorf("%s is warned about: %s", v, l)
			}
		}
	}

	_, cl := newAdmin(t, s.Addr)
	defer cl.Close()
	req := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
	res.ConfigNames = []string{"log.retention.ms"}
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if rs := resp.Resources; len(rs) != 1 || len(rs[0].Configs) != 1 ||
		rs[0].Configs[0].Value == nil || *rs[0].Configs[0].Value != "3600000" || rs[0].Configs[0].Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Errorf("log.retention.ms from KAFKA_LOG_RETENTION_MS: %+v", rs)
	}
}

// TestUnknownExplicitPropertyRefused: an unknown key given explicitly
// (--override, or a --config file) still fails fast, naming the key and
// where it was set, unlike an unknown KAFKA_* variable.
func TestUnknownExplicitPropertyRefused(t *testing.T) {
	if os.Getenv(externalBrokerEnv) != "" {
		t.Skip("needs its own broker process")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(cfg, []byte("log.retention.ms=3600000\nsamsa.no.such.file.key=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, key string
		args      []string
	}{
		{"override", "samsa.no.such.override.key", []string{"--override", "samsa.no.such.override.key=1"}},
		{"config", "samsa.no.such.file.key", []string{"--config", cfg}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSamsa(t, t.TempDir(), freePort(t), "", c.args)
			if code := s.StartRefused(); code == 0 {
				t.Fatalf("exit status 0")
			}
			var named bool
			for _, l := range s.Lines() {
				named = named || strings.Contains(l, c.key)
			}
			if !named {
				t.Errorf("no log line names %s: %q", c.key, s.Lines())
			}
		})
	}
}
