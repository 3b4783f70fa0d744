package cli

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/samsa-io/samsa/broker/config"
)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "server.properties")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCommands(t *testing.T) {
	tests := []struct {
		args    []string
		command string
		wantErr string
	}{
		{nil, "serve", ""},
		{[]string{"serve"}, "serve", ""},
		{[]string{"serve", "--broker-id", "2"}, "serve", ""},
		{[]string{"--broker-id", "2"}, "serve", ""},
		{[]string{"version"}, "version", ""},
		{[]string{"help"}, "help", ""},
		{[]string{"bogus"}, "", `unknown command "bogus"`},
		{[]string{"serve", "extra"}, "", `unexpected argument "extra"`},
		{[]string{"--no-such-flag"}, "", "flag provided but not defined"},
		{[]string{"--log-level", "trace"}, "", "--log-level"},
		{[]string{"--log-format", "xml"}, "", "--log-format"},
		{[]string{"--override", "novalue"}, "", "want key=value"},
		{[]string{"--override", "=v"}, "", "want key=value"},
		{[]string{"--config", "/nonexistent/server.properties"}, "", "no such file"},
	}
	for _, tt := range tests {
		o, err := Parse(tt.args, nil)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: err = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || o.Command != tt.command {
			t.Errorf("%v: %v, %v; want command %s", tt.args, o, err, tt.command)
		}
	}
	if _, err := Parse([]string{"-h"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestLogFlags(t *testing.T) {
	o, err := Parse([]string{"-log-level=debug", "--log-format", "json"}, nil)
	if err != nil || o.LogLevel != zerolog.DebugLevel || o.LogFormat != "json" {
		t.Fatalf("%+v %v", o, err)
	}
	o, _ = Parse(nil, nil)
	if o.LogLevel != zerolog.InfoLevel || o.LogFormat != "console" {
		t.Fatalf("defaults %+v", o)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, `# a Kafka server.properties
num.partitions=2
log.retention.hours : 24
default.replication.factor 1
listeners=PLAINTEXT://localhost:1000,\
          OTHER://localhost:1001
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT
node.id=5
log.dirs=/from/file
auto.create.topics.enable=true
`)
	env := []string{
		"KAFKA_NUM_PARTITIONS=3",
		"KAFKA_AUTO_CREATE_TOPICS_ENABLE=false",
		"KAFKA_LOG_DIRS=/from/env",
		"KAFKA_HEAP_OPTS=-Xmx1G",
		"HOME=/root",
	}
	args := []string{
		"--config", file,
		"--override", "num.partitions=4",
		"--override", "log.dirs=/from/override",
		"--data-dir", "/from/flag",
		"--broker-id", "9",
		"--etcd-endpoints", "a:2379,b:2379",
	}
	o, err := Parse(args, env)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"num.partitions":                 "4", // file < env < override
		"log.retention.hours":            "24",
		"default.replication.factor":     "1",
		"listeners":                      "PLAINTEXT://localhost:1000,OTHER://localhost:1001",
		"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT",
		"node.id":                        "9", // flag beats file
		"broker.id":                      "9",
		"log.dirs":                       "/from/flag", // override < flag
		"auto.create.topics.enable":      "false",      // file < env
		"etcd.endpoints":                 "a:2379,b:2379",
	}
	if !reflect.DeepEqual(o.Props, want) {
		t.Errorf("props = %v\nwant  %v", o.Props, want)
	}
	origins := map[string]string{
		"num.partitions":            "--override",
		"log.retention.hours":       file + ":3",
		"listeners":                 file + ":5",
		"auto.create.topics.enable": "environment variable KAFKA_AUTO_CREATE_TOPICS_ENABLE",
		"log.dirs":                  "--data-dir",
		"node.id":                   "--broker-id",
	}
	for k, v := range origins {
		if o.Origins[k] != v {
			t.Errorf("origin of %s = %q, want %q", k, o.Origins[k], v)
		}
	}
	if !reflect.DeepEqual(o.EnvSkipped, []string{"KAFKA_HEAP_OPTS"}) {
		t.Errorf("EnvSkipped = %v", o.EnvSkipped)
	}
	cfg, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BrokerID != 9 || cfg.DataDir != "/from/flag" || cfg.NumPartitions != 4 || cfg.AutoCreateTopics ||
		len(cfg.Listeners) != 2 || len(cfg.EtcdEndpoints) != 2 {
		t.Errorf("cfg = %+v", cfg)
	}
}

func TestLoadErrorsNameKeyAndOrigin(t *testing.T) {
	file := writeFile(t, "num.partitions=abc\nlisteners=bad\n")
	tests := []struct {
		args []string
		env  []string
		want []string
	}{
		{[]string{"--config", file}, nil, []string{
			"Invalid value abc for configuration num.partitions: Not a number of type INT (set by " + file + ":1)",
			"Invalid value bad for configuration listeners",
			"(set by " + file + ":2)",
		}},
		{[]string{"--override", "no.such.property=1"}, nil, []string{
			`unknown broker property "no.such.property" (set by --override)`,
		}},
		{[]string{"--config", writeFile(t, "no.such.property=1\n")}, nil, []string{
			`unknown broker property "no.such.property"`,
		}},
		{[]string{"--override", "retention.ms=5"}, nil, []string{
			`unknown broker property "retention.ms": it is a topic config; its broker default is log.retention.ms (set by --override)`,
		}},
		{[]string{"--broker-id", "x"}, nil, []string{"node.id", "(set by --broker-id)"}},
		{[]string{"--listeners", "SSL://:9093"}, nil, []string{"has no key store", "(set by --listeners)"}},
		// An authorizer samsa does not have must not start (it would
		// authorize nothing).
		{nil, []string{"KAFKA_AUTHORIZER_CLASS_NAME=com.example.CustomAuthorizer"}, []string{
			"configuration authorizer.class.name",
			"(set by environment variable KAFKA_AUTHORIZER_CLASS_NAME)",
		}},
	}
	for _, tt := range tests {
		o, err := Parse(tt.args, tt.env)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Load(o)
		if !errors.Is(err, config.ErrInvalid) {
			t.Fatalf("%v %v: err = %v", tt.args, tt.env, err)
		}
		msg := Explain(err, o)
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v %v: message\n%s\nlacks %q", tt.args, tt.env, msg, w)
			}
		}
	}
}

func TestComposeFileEnvironment(t *testing.T) {
	// The environment of a typical apache/kafka or confluentinc/cp-kafka
	// compose service must be accepted as is.
	env := []string{
		"KAFKA_NODE_ID=1",
		"KAFKA_PROCESS_ROLES=broker,controller",
		"KAFKA_LISTENERS=PLAINTEXT://:29092,CONTROLLER://:29093,PLAINTEXT_HOST://:9092",
		"KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://broker:29092,PLAINTEXT_HOST://localhost:9092",
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT",
		"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
		"KAFKA_CONTROLLER_QUORUM_VOTERS=1@broker:29093",
		"KAFKA_INTER_BROKER_LISTENER_NAME=PLAINTEXT",
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1",
		"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=1",
		"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=1",
		"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0",
		"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR=1",
		"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR=1",
		"KAFKA_NUM_PARTITIONS=3",
		"KAFKA_LOG_DIRS=/tmp/kraft-combined-logs",
		"KAFKA_CONFLUENT_SUPPORT_METRICS_ENABLE=false",
		"KAFKA_JMX_PORT=9101",
		"KAFKA_JMX_HOSTNAME=localhost",
		"KAFKA_HEAP_OPTS=-Xmx512M",
		"CLUSTER_ID=MkU3OEVBNTcwNTJENDM2Qk",
	}
	o, err := Parse(nil, env)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(o)
	if err != nil {
		t.Fatal(Explain(err, o))
	}
	if cfg.BrokerID != 1 || len(cfg.Listeners) != 2 || cfg.AdvertisedListeners[1].Host != "localhost" || cfg.NumPartitions != 3 {
		t.Errorf("cfg = %+v", cfg)
	}
	var buf bytes.Buffer
	LogSettings(NewLogger(&buf, zerolog.DebugLevel, "json"), cfg, o)
	out := buf.String()
	for _, w := range []string{`"level":"warn"`, "process.roles", "CONTROLLER://:29093", `"property":"num.partitions"`, "environment variable KAFKA_NUM_PARTITIONS"} {
		if !strings.Contains(out, w) {
			t.Errorf("log lacks %q:\n%s", w, out)
		}
	}
}

func TestKafkaServerProperties(t *testing.T) {
	// Kafka 4's own config/server.properties (abridged, same keys).
	file := writeFile(t, `############################# Server Basics #############################
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:9093
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
inter.broker.listener.name=PLAINTEXT
advertised.listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600
log.dirs=/tmp/kraft-combined-logs
num.partitions=1
num.recovery.threads.per.data.dir=1
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
#log.flush.interval.messages=10000
#log.flush.interval.ms=1000
log.retention.hours=168
#log.retention.bytes=1073741824
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
`)
	o, err := Parse([]string{"--config", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(o)
	if err != nil {
		t.Fatal(Explain(err, o))
	}
	if len(cfg.Listeners) != 1 || cfg.Listeners[0].Port != 9092 || len(cfg.AdvertisedListeners) != 1 || cfg.DataDir != "/tmp/kraft-combined-logs" {
		t.Errorf("cfg = %+v", cfg)
	}
}

// TestInertPropertiesWarned: a property samsa accepts but does not act on is
// logged at warn with its value, where it was set and why it does nothing.
func TestInertPropertiesWarned(t *testing.T) {
	o, err := Parse([]string{"--override", "log.cleaner.io.buffer.size=1048576"}, []string{"KAFKA_LOG_FLUSH_OFFSET_CHECKPOINT_INTERVAL_MS=1000", "KAFKA_NUM_PARTITIONS=3"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	LogSettings(NewLogger(&buf, zerolog.InfoLevel, "json"), cfg, o)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := map[string][]string{
		"log.cleaner.io.buffer.size":              {`"value":"1048576"`, `"from":"--override"`, "buffers of its own"},
		"log.flush.offset.checkpoint.interval.ms": {`"value":"1000"`, `"from":"environment variable KAFKA_LOG_FLUSH_OFFSET_CHECKPOINT_INTERVAL_MS"`, "checkpoint"},
	}
	for prop, subs := range want {
		found := false
		for _, l := range lines {
			if strings.Contains(l, `"property":"`+prop+`"`) {
				found = true
				for _, s := range append(subs, `"level":"warn"`, "has no effect in samsa") {
					if !strings.Contains(l, s) {
						t.Errorf("%s: line %s lacks %s", prop, l, s)
					}
				}
			}
		}
		if !found {
			t.Errorf("no warn line for %s:\n%s", prop, buf.String())
		}
	}
	if strings.Contains(buf.String(), "num.partitions") {
		t.Errorf("an implemented property warned about:\n%s", buf.String())
	}
}

// TestUnknownEnvironmentVariablesSkipped: a KAFKA_* variable that names no
// property samsa knows is skipped with a warn line, never a refusal to
// start (the Kafka images skip what they do not know); the images' own
// variables (KAFKA_PATH, ...) are skipped silently; a bad value of a known
// property still fails.
func TestUnknownEnvironmentVariablesSkipped(t *testing.T) {
	env := []string{"KAFKA_NO_SUCH_PROPERTY=1", "KAFKA_RETENTION_MS=5", "KAFKA_PATH=/opt/kafka", "KAFKA_HEAP_OPTS=-Xmx1g",
		"KAFKA_JMX_OPTS=-Dx", "KAFKA_LOG4J_OPTS=-Dy", "KAFKA_VERSION=4.4.0", "KAFKA_NUM_PARTITIONS=3"}
	o, err := Parse(nil, env)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(o)
	if err != nil {
		t.Fatalf("unknown environment variables refused the start: %v", err)
	}
	if cfg.NumPartitions != 3 {
		t.Fatalf("a known variable was not applied: num.partitions %d", cfg.NumPartitions)
	}
	if want := []string{"KAFKA_NO_SUCH_PROPERTY (no.such.property)", "KAFKA_RETENTION_MS (retention.ms)"}; !reflect.DeepEqual(o.EnvUnknown, want) {
		t.Fatalf("EnvUnknown = %v, want %v", o.EnvUnknown, want)
	}
	if want := []string{"KAFKA_HEAP_OPTS", "KAFKA_JMX_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_PATH", "KAFKA_VERSION"}; !reflect.DeepEqual(o.EnvSkipped, want) {
		t.Fatalf("EnvSkipped = %v, want %v", o.EnvSkipped, want)
	}
	var buf bytes.Buffer
	LogSettings(NewLogger(&buf, zerolog.InfoLevel, "json"), cfg, o)
	for _, v := range []string{"KAFKA_NO_SUCH_PROPERTY", "KAFKA_RETENTION_MS"} {
		if !strings.Contains(buf.String(), `"level":"warn"`) || !strings.Contains(buf.String(), v) {
			t.Errorf("no warn line for %s in:\n%s", v, buf.String())
		}
	}
	if strings.Contains(buf.String(), "KAFKA_PATH") {
		t.Errorf("an image variable is warned about:\n%s", buf.String())
	}
	o, _ = Parse(nil, []string{"KAFKA_NUM_PARTITIONS=abc"})
	if _, err := Load(o); !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("a bad value of a known property from the environment: %v", err)
	}
}
