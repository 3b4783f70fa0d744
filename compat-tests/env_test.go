package compat

import (
	"context"
	"os"
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
	t.Setenv("KAFKA_SAMSA_NO_SUCH_PROPERTY", "1")
	t.Setenv("KAFKA_LOG_RETENTION_MS", "3600000")
	s := StartSamsa(t)

	warned := logLinesMatching(s.Lines(), "environment variable names no broker property")
	if len(warned) != 1 || !strings.Contains(warned[0], "KAFKA_SAMSA_NO_SUCH_PROPERTY") {
		t.Errorf("warn lines about unknown variables: %q, want one naming KAFKA_SAMSA_NO_SUCH_PROPERTY", warned)
	}
	for _, l := range s.Lines() {
		for _, v := range []string{"KAFKA_HEAP_OPTS", "KAFKA_OPTS", "KAFKA_JMX_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_VERSION"} {
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
