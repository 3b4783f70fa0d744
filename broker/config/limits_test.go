package config

import (
	"maps"
	"strings"
	"testing"
	"time"
)

func TestParseConnectionOverrides(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]int32
		err  string
	}{
		{in: "", want: map[string]int32{}},
		{in: "127.0.0.1:5, Broker-Host:100", want: map[string]int32{"127.0.0.1": 5, "broker-host": 100}},
		{in: "::1:7,[fe80::1]:8,::ffff:10.0.0.1:9", want: map[string]int32{"::1": 7, "fe80::1": 8, "10.0.0.1": 9}},
		{in: "10.0.0.1:0", want: map[string]int32{"10.0.0.1": 0}},
		{in: "10.0.0.1", err: "want host:count"},
		{in: "10.0.0.1:", err: "want host:count"},
		{in: ":3", err: "want host:count"},
		{in: "10.0.0.1:-1", err: "the count"},
		{in: "10.0.0.1:x", err: "the count"},
		{in: "10.0.0.1:99999999999", err: "the count"},
		{in: "a b:1", err: "not a host name"},
		{in: "10.0.0.1:1,10.0.0.1:2", err: "listed twice"},
	} {
		got, err := ParseConnectionOverrides(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestLimitProperties(t *testing.T) {
	b, err := NewBroker(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Kafka's defaults.
	if b.ConnectionsMaxIdle != 10*time.Minute || b.FetchMaxBytes != 57671680 ||
		b.MaxConnections != 1<<31-1 || b.MaxConnectionsPerIP != 1<<31-1 ||
		len(b.MaxConnectionsPerIPOverrides) != 0 || b.MaxPartitionsPerRequest != 10000 {
		t.Fatalf("defaults: %+v", b)
	}
	b, err = NewBroker(map[string]string{
		"connections.max.idle.ms":          "-1",
		"fetch.max.bytes":                  "1024",
		"max.connections":                  "7",
		"max.connections.per.ip":           "0",
		"max.connections.per.ip.overrides": "127.0.0.1:3",
		"max.partitions.per.request":       "50",
		"num.partitions":                   "50",
		"offsets.topic.num.partitions":     "50",
	})
	if err != nil {
		t.Fatal(err)
	}
	if b.ConnectionsMaxIdle >= 0 || b.FetchMaxBytes != 1024 || b.MaxConnections != 7 || b.MaxConnectionsPerIP != 0 ||
		b.MaxConnectionsPerIPOverrides["127.0.0.1"] != 3 || b.MaxPartitionsPerRequest != 50 {
		t.Fatalf("set: %+v", b)
	}
	for _, tc := range []struct {
		props map[string]string
		key   string
	}{
		{map[string]string{"max.connections.per.ip": "0"}, "max.connections.per.ip"},
		{map[string]string{"max.connections": "-1"}, "max.connections"},
		{map[string]string{"fetch.max.bytes": "1023"}, "fetch.max.bytes"},
		{map[string]string{"max.connections.per.ip.overrides": "nohost"}, "max.connections.per.ip.overrides"},
		{map[string]string{"max.partitions.per.request": "0"}, "max.partitions.per.request"},
		{map[string]string{"max.partitions.per.request": "10", "num.partitions": "11"}, "num.partitions"},
		{map[string]string{"max.partitions.per.request": "10"}, "offsets.topic.num.partitions"}, // 50 by default
	} {
		_, err := NewBroker(tc.props)
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%v: error %v, want one naming %s", tc.props, err, tc.key)
		}
	}
}

func TestRackID(t *testing.T) {
	b, _ := NewBroker(nil)
	if b.RackID() != nil {
		t.Fatal("rack without broker.rack")
	}
	b, _ = NewBroker(map[string]string{"broker.rack": "r1"})
	if r := b.RackID(); r == nil || *r != "r1" {
		t.Fatalf("rack %v", r)
	}
}
