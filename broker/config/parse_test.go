package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseProperties(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Property
	}{
		{"equals", "a=b", []Property{{"a", "b", 1}}},
		{"colon", "a: b", []Property{{"a", "b", 1}}},
		{"space", "a b", []Property{{"a", "b", 1}}},
		{"blanks around separator", "  a \t=  b c  ", []Property{{"a", "b c  ", 1}}},
		{"only first separator splits", "a=b=c:d", []Property{{"a", "b=c:d", 1}}},
		{"blank then equals", "a = =b", []Property{{"a", "=b", 1}}},
		{"empty value", "a=\nb", []Property{{"a", "", 1}, {"b", "", 2}}},
		{"comments and blanks", "# c\n  ! also\n\n   \na=1\n#b=2", []Property{{"a", "1", 5}}},
		{"comment not continued", "# c \\\na=1", []Property{{"a", "1", 2}}},
		{"continuation", "listeners=PLAINTEXT://a:1,\\\n    PLAINTEXT2://b:2\nx=y",
			[]Property{{"listeners", "PLAINTEXT://a:1,PLAINTEXT2://b:2", 1}, {"x", "y", 3}}},
		{"continued line starting with #", "a=1\\\n#2", []Property{{"a", "1#2", 1}}},
		{"even backslashes do not continue", "a=x\\\\\nb=2", []Property{{"a", `x\`, 1}, {"b", "2", 2}}},
		{"continuation at EOF", "a=1\\", []Property{{"a", "1", 1}}},
		{"CRLF and CR", "a=1\r\nb=2\rc=3", []Property{{"a", "1", 1}, {"b", "2", 2}, {"c", "3", 3}}},
		{"escaped separator in key", `a\=b\:c\ d=v`, []Property{{"a=b:c d", "v", 1}}},
		{"escapes", `a=t\tn\nr\rf\f\q\\`, []Property{{"a", "t\tn\nr\rf\fq\\", 1}}},
		{"unicode escape", `a=caf\u00e9 \u2603`, []Property{{"a", "café ☃", 1}}},
		{"surrogate pair", `a=\ud83d\ude00`, []Property{{"a", "😀", 1}}},
		{"utf-8 passes through", "a=é", []Property{{"a", "é", 1}}},
		{"key only", "flag", []Property{{"flag", "", 1}}},
		{"duplicates kept in order", "a=1\na=2", []Property{{"a", "1", 1}, {"a", "2", 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProperties(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParsePropertiesBadEscape(t *testing.T) {
	for _, in := range []string{`a=\u12`, `a=\uzzzz`, `\u1=b`} {
		if _, err := ParseProperties(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: err = %v, want a line-numbered error", in, err)
		}
	}
}

func TestEnvKey(t *testing.T) {
	tests := []struct {
		env  string
		key  string
		isOK bool
	}{
		{"KAFKA_AUTO_CREATE_TOPICS_ENABLE", "auto.create.topics.enable", true},
		{"KAFKA_ADVERTISED_LISTENERS", "advertised.listeners", true},
		{"KAFKA_LOG_DIRS", "log.dirs", true},
		{"KAFKA_NODE_ID", "node.id", true},
		{"KAFKA_CONFLUENT_SUPPORT__METRICS_ENABLE", "confluent.support_metrics.enable", true},
		{"KAFKA_FOO___BAR", "foo-bar", true},
		{"KAFKA_A____B", "a-.b", true},
		{"KAFKA_A_____B", "a-_b", true},
		{"KAFKA_CFG_NUM_PARTITIONS", "num.partitions", true},
		{"KAFKA_HEAP_OPTS", "", false},
		{"KAFKA_OPTS", "", false},
		{"KAFKA_JVM_PERFORMANCE_OPTS", "", false},
		{"KAFKA_LOG4J_OPTS", "", false},
		{"KAFKA_JMX_OPTS", "", false},
		{"KAFKA_GC_LOG_OPTS", "", false},
		{"KAFKA_DEBUG", "", false},
		{"KAFKA_VERSION", "", false},
		{"KAFKA_HOME", "", false},
		{"KAFKA_", "", false},
		{"PATH", "", false},
		{"XKAFKA_FOO", "", false},
	}
	for _, tt := range tests {
		key, ok := EnvKey(tt.env)
		if key != tt.key || ok != tt.isOK {
			t.Errorf("EnvKey(%s) = %q, %v; want %q, %v", tt.env, key, ok, tt.key, tt.isOK)
		}
	}
}

func TestPropertiesFromEnv(t *testing.T) {
	env := []string{
		"PATH=/bin",
		"KAFKA_HEAP_OPTS=-Xmx1G",
		"KAFKA_CFG_NUM_PARTITIONS=5",
		"KAFKA_NUM_PARTITIONS=3",
		"KAFKA_AUTO_CREATE_TOPICS_ENABLE=false",
		"KAFKA_LISTENERS=PLAINTEXT://:9092=x", // '=' inside the value
	}
	props, skipped := PropertiesFromEnv(env)
	want := []EnvProperty{
		{"KAFKA_AUTO_CREATE_TOPICS_ENABLE", "auto.create.topics.enable", "false"},
		{"KAFKA_LISTENERS", "listeners", "PLAINTEXT://:9092=x"},
		{"KAFKA_NUM_PARTITIONS", "num.partitions", "3"},
		{"KAFKA_CFG_NUM_PARTITIONS", "num.partitions", "5"}, // last: wins
	}
	if !reflect.DeepEqual(props, want) {
		t.Errorf("props = %v\nwant %v", props, want)
	}
	if !reflect.DeepEqual(skipped, []string{"KAFKA_HEAP_OPTS"}) {
		t.Errorf("skipped = %v", skipped)
	}
}
