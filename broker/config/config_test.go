package config

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/samsa-io/samsa/storage"
)

func mustBroker(t *testing.T, props map[string]string) *Broker {
	t.Helper()
	b, err := NewBroker(props)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBrokerDefaults(t *testing.T) {
	b := mustBroker(t, nil)
	checks := []struct {
		name      string
		got, want any
	}{
		{"BrokerID", b.BrokerID, int32(1)},
		{"DataDir", b.DataDir, "./samsa-data"},
		{"EtcdEndpoints", len(b.EtcdEndpoints), 0},
		{"EtcdPrefix", b.EtcdPrefix, "/samsa/"},
		{"NumPartitions", b.NumPartitions, int32(1)},
		{"DefaultReplicationFactor", b.DefaultReplicationFactor, int16(1)},
		{"AutoCreateTopics", b.AutoCreateTopics, true},
		{"DeleteTopicEnable", b.DeleteTopicEnable, true},
		{"SocketRequestMaxBytes", b.SocketRequestMaxBytes, int32(104857600)},
		{"MessageMaxBytes", b.MessageMaxBytes, int32(1048588)},
		{"MinInsyncReplicas", b.MinInsyncReplicas, int32(1)},
		{"RetentionCheckInterval", b.RetentionCheckInterval, 5 * time.Minute},
		{"CacheHotBytes", b.CacheHotBytes, int64(64 << 20)},
		{"CacheHotTotalBytes", b.CacheHotTotalBytes, int64(256 << 20)},
		{"GroupInitialRebalanceDelay", b.GroupInitialRebalanceDelay, 3 * time.Second},
		{"GroupMinSessionTimeout", b.GroupMinSessionTimeout, 6 * time.Second},
		{"GroupMaxSessionTimeout", b.GroupMaxSessionTimeout, 30 * time.Minute},
		{"OffsetsTopicNumPartitions", b.OffsetsTopicNumPartitions, int32(50)},
		{"OffsetsTopicReplication", b.OffsetsTopicReplication, int16(3)},
		{"OffsetsRetention", b.OffsetsRetention, 7 * 24 * time.Hour},
		{"TxnTopicNumPartitions", b.TxnTopicNumPartitions, int32(50)},
		{"TxnTopicReplication", b.TxnTopicReplication, int16(3)},
		{"TxnTopicMinISR", b.TxnTopicMinISR, int32(1)},
		{"ProducerIDExpiration", b.ProducerIDExpiration, 24 * time.Hour},
		{"IgnoredKeys", len(b.IgnoredKeys()), 0},
		{"Warnings", len(b.Warnings()), 0},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestBrokerValues(t *testing.T) {
	b := mustBroker(t, map[string]string{
		"node.id":                          " 7 ",
		"log.dirs":                         "/d1, /d2",
		"etcd.endpoints":                   "e1:2379, e2:2379",
		"num.partitions":                   "3",
		"auto.create.topics.enable":        "FALSE",
		"group.initial.rebalance.delay.ms": "3000",
		"zookeeper.connect":                "zk:2181",
		"confluent.support.metrics.enable": "false",
		"num.io.threads":                   "8",
	})
	if b.BrokerID != 7 || b.DataDir != "/d1" || b.NumPartitions != 3 || b.AutoCreateTopics ||
		b.GroupInitialRebalanceDelay != 3*time.Second || !reflect.DeepEqual(b.EtcdEndpoints, []string{"e1:2379", "e2:2379"}) {
		t.Errorf("got %+v", b)
	}
	if got := b.IgnoredKeys(); !reflect.DeepEqual(got, []string{"confluent.support.metrics.enable", "num.io.threads", "zookeeper.connect"}) {
		t.Errorf("IgnoredKeys = %v", got)
	}
	if !reflect.DeepEqual(b.DataDirs, []string{"/d1", "/d2"}) {
		t.Errorf("DataDirs = %v, want every log.dirs entry", b.DataDirs)
	}
	if w := strings.Join(b.Warnings(), "\n"); strings.Contains(w, "log.dirs") {
		t.Errorf("warnings = %s: every log directory is used", w)
	}
	if e, _ := b.Get("node.id"); e.Value != "7" || e.Source != SourceStaticBroker {
		t.Errorf("node.id entry = %+v", e)
	}
}

func TestBrokerErrors(t *testing.T) {
	tests := []struct {
		props   map[string]string
		key     string
		wantErr string
	}{
		{map[string]string{"num.partitions": "abc"}, "num.partitions", "Not a number of type INT"},
		{map[string]string{"num.partitions": "0"}, "num.partitions", "at least 1"},
		{map[string]string{"num.partitions": "3000000000"}, "num.partitions", "INT"},
		{map[string]string{"offsets.topic.replication.factor": "40000"}, "offsets.topic.replication.factor", "SHORT"},
		{map[string]string{"auto.create.topics.enable": "yes"}, "auto.create.topics.enable", "either true or false"},
		{map[string]string{"listeners": "bad"}, "listeners", "NAME://host:port"},
		{map[string]string{"no.such.thing": "1"}, "no.such.thing", `unknown broker property "no.such.thing"`},
		{map[string]string{"retention.ms": "1"}, "retention.ms", "topic config; its broker default is log.retention.ms"},
		{map[string]string{"log.segment.bytes": "1000"}, "log.segment.bytes", "at least 1048576"},
		{map[string]string{"log.cleanup.policy": "Compact"}, "log.cleanup.policy", "allowed values"},
		{map[string]string{"log.message.timestamp.type": "createtime"}, "log.message.timestamp.type", "one of"},
		{map[string]string{"broker.id": "1", "node.id": "2"}, "node.id", "differ"},
		{map[string]string{"log.dirs": " , "}, "log.dirs", "at least one"},
		{map[string]string{"etcd.prefix": ""}, "etcd.prefix", "empty"},
		{map[string]string{"log.retention.ms": "0"}, "log.retention.ms", "unlimited (-1)"},
		{map[string]string{"log.retention.hours": "0"}, "log.retention.hours", "unlimited (-1)"},
		{map[string]string{"group.min.session.timeout.ms": "10", "group.max.session.timeout.ms": "5"}, "group.min.session.timeout.ms", "exceed"},
	}
	for _, tt := range tests {
		_, err := NewBroker(tt.props)
		var ce *Error
		if err == nil || !errors.Is(err, ErrInvalid) || !errors.As(err, &ce) {
			t.Errorf("%v: err = %v, want *Error wrapping ErrInvalid", tt.props, err)
			continue
		}
		if ce.Key != tt.key || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%v: err = %v (key %s), want key %s and %q", tt.props, err, ce.Key, tt.key, tt.wantErr)
		}
	}
}

func TestBrokerErrorsJoined(t *testing.T) {
	_, err := NewBroker(map[string]string{"a.b": "1", "num.partitions": "x", "c.d": "2"})
	msg := err.Error()
	ia, ic, in := strings.Index(msg, "a.b"), strings.Index(msg, "c.d"), strings.Index(msg, "num.partitions")
	if ia < 0 || ic < 0 || in < 0 || !(ia < ic && ic < in) {
		t.Errorf("want all three keys in order, got:\n%s", msg)
	}
}

func TestTypedAccessorsPanicOnUnknown(t *testing.T) {
	b := mustBroker(t, nil)
	for _, f := range []func(){
		func() { b.Int64("nope") },
		func() { b.Bool("num.partitions") },
		func() { b.Int64("listeners") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
	if b.Int64("log.retention.ms") != 0 || b.Str("log.retention.ms") != "" {
		t.Error("null property should read as zero")
	}
}

// TestValidateTopicConfigs covers every topic config with a valid and an
// invalid value (or notes that none can be invalid).
func TestValidateTopicConfigs(t *testing.T) {
	tests := []struct {
		key     string
		valid   []string
		invalid []string
	}{
		{"cleanup.policy", []string{"delete", "compact", "compact,delete", " delete , compact "}, []string{"", "Compact", "delete,none", "x"}},
		{"compression.type", []string{"producer", "uncompressed", "zstd", "lz4", "snappy", "gzip"}, []string{"GZIP", "none", ""}},
		{"compression.gzip.level", []string{"-1", "1", "9"}, []string{"0", "10", "x"}},
		{"compression.lz4.level", []string{"1", "17"}, []string{"0", "18"}},
		{"compression.zstd.level", []string{"-131072", "22", "3"}, []string{"-131073", "23"}},
		{"delete.retention.ms", []string{"0", "86400000"}, []string{"-1", "x"}},
		{"file.delete.delay.ms", []string{"0"}, []string{"-1"}},
		{"flush.messages", []string{"1", "9223372036854775807"}, []string{"0", "9223372036854775808"}},
		{"flush.ms", []string{"0", "1000"}, []string{"-1"}},
		{"errors.deadletterqueue.group.enable", []string{"false"}, []string{"true", "x"}}, // share groups: unsupported
		// Not implemented (replication throttling, tiered storage): only the
		// default is accepted.
		{"follower.replication.throttled.replicas", []string{""}, []string{"0:1,1:2"}},
		{"index.interval.bytes", []string{"0", "4096"}, []string{"-1", "2147483648"}},
		{"leader.replication.throttled.replicas", []string{""}, []string{"*"}},
		{"local.retention.bytes", []string{"-2"}, []string{"-3", "100"}},
		{"local.retention.ms", []string{"-2"}, []string{"-3", "100"}},
		{"max.compaction.lag.ms", []string{"1"}, []string{"0"}},
		{"max.message.bytes", []string{"0", "1048588"}, []string{"-1", "1.5"}},
		{"max.decompressed.message.bytes", []string{"1", "2147483639"}, []string{"0", "2147483640"}},
		{"message.timestamp.after.max.ms", []string{"0", "3600000"}, []string{"-1"}},
		{"message.timestamp.before.max.ms", []string{"0", "9223372036854775807"}, []string{"-1"}},
		{"message.timestamp.type", []string{"CreateTime", "LogAppendTime"}, []string{"createtime", "LOGAPPENDTIME", ""}},
		{"min.cleanable.dirty.ratio", []string{"0", "0.5", "1", "1e-1"}, []string{"-0.1", "1.01", "NaN", "x"}},
		{"min.compaction.lag.ms", []string{"0"}, []string{"-1"}},
		{"min.insync.replicas", []string{"1", "3"}, []string{"0", "-1"}},
		{"preallocate", []string{"true", "false", "TRUE"}, []string{"yes", "1"}},
		{"remote.storage.enable", []string{"false"}, []string{"true", "x"}},
		{"retention.bytes", []string{"-1", "-5", "1000"}, []string{"x"}},
		{"retention.ms", []string{"-1", "0", "604800000"}, []string{"-2", "1h"}},
		{"segment.bytes", []string{"1048576", "1073741824"}, []string{"14", "1048575", "2147483648"}},
		{"segment.index.bytes", []string{"4", "10485760"}, []string{"3"}},
		{"segment.jitter.ms", []string{"0"}, []string{"-1"}},
		{"segment.ms", []string{"1", "604800000"}, []string{"0"}},
		{"unclean.leader.election.enable", []string{"false", "true"}, []string{"no"}},
		{"internal.segment.bytes", []string{"1024", "14"}, []string{"0"}},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.key] = true
		if !IsTopicConfig(tt.key) {
			t.Errorf("IsTopicConfig(%s) = false", tt.key)
		}
		for _, v := range tt.valid {
			if err := ValidateTopicConfigs(map[string]string{tt.key: v}); err != nil {
				t.Errorf("%s=%q: %v", tt.key, v, err)
			}
		}
		for _, v := range tt.invalid {
			err := ValidateTopicConfigs(map[string]string{tt.key: v})
			var ce *Error
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalid) || ce.Key != tt.key {
				t.Errorf("%s=%q: err = %v, want *Error for the key", tt.key, v, err)
			}
		}
	}
	for name := range topicDefs {
		if !covered[name] {
			t.Errorf("topic config %s has no validation test", name)
		}
	}
}

func TestValidateTopicConfigsOther(t *testing.T) {
	err := ValidateTopicConfigs(map[string]string{"retention.hours": "1"})
	var ce *Error
	if !errors.As(err, &ce) || !ce.Unknown || ce.Message() != "Unknown topic config name: retention.hours" {
		t.Errorf("unknown: %v", err)
	}
	if IsTopicConfig("log.retention.ms") || IsTopicConfig("num.partitions") {
		t.Error("broker property reported as topic config")
	}
	err = ValidateTopicConfigs(map[string]string{"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"})
	if err == nil || !strings.Contains(err.Error(), "conflict") {
		t.Errorf("compaction lag conflict: %v", err)
	}
	err = ValidateTopicConfigs(map[string]string{"segment.bytes": "1"})
	if !errors.As(err, &ce) || ce.Message() != "Invalid value 1 for configuration segment.bytes: value must be at least 1048576" {
		t.Errorf("message: %v", err)
	}
}

// Every broker synonym of a topic config must be a broker property, and
// the first (the one Kafka 4.4 names, ServerTopicConfigSynonyms) must be
// alterable at run time, as in Kafka; its minutes and hours variants are
// read-only there.
func TestSynonymsAreBrokerProperties(t *testing.T) {
	for _, d := range topicTable {
		for i, s := range d.synonyms {
			bd := brokerDefs[s.name]
			if bd == nil {
				t.Fatalf("%s: synonym %s missing", d.name, s.name)
			}
			if i == 0 && (bd.readOnly || !bd.dynamic) {
				t.Errorf("%s: topic default %s should be dynamic", d.name, s.name)
			}
		}
	}
	for _, n := range []string{"log.retention.hours", "log.retention.minutes", "log.roll.hours", "log.roll.jitter.hours", "num.partitions", "log.dirs"} {
		if d := brokerDefs[n]; !d.readOnly || d.dynamic {
			t.Errorf("%s: Kafka 4.4 cannot alter it at run time: it must be read-only", n)
		}
	}
}

func TestResolveTopicDefaults(t *testing.T) {
	b := mustBroker(t, nil)
	got := b.ResolveTopic(nil)
	want := Topic{
		CleanupPolicyDelete:    true,
		MaxMessageBytes:        1048588,
		MaxRecordBytes:         2147483639,
		MinInsyncReplicas:      1,
		CompressionType:        "producer",
		TimestampBeforeMaxMs:   math.MaxInt64,
		TimestampAfterMaxMs:    3600000,
		DeleteRetentionMs:      86400000,
		MaxCompactionLagMs:     math.MaxInt64,
		MinCleanableDirtyRatio: 0.5,
		Log: storage.Config{
			SegmentBytes:         1 << 30,
			SegmentMs:            7 * 24 * time.Hour,
			SegmentIndexBytes:    10 << 20,
			IndexIntervalBytes:   4096,
			RetentionMs:          7 * 24 * time.Hour,
			RetentionBytes:       -1,
			FlushMessages:        math.MaxInt64,
			FlushMs:              math.MaxInt64, // saturated, not overflowed
			FileDeleteDelay:      time.Minute,
			ProducerIDExpiration: 24 * time.Hour,
			CleanupPolicy:        storage.CleanupDelete,
			DeleteRetention:      24 * time.Hour,
			MaxCompactionLag:     math.MaxInt64,
			MinCleanableRatio:    0.5,
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestResolveTopicDurations(t *testing.T) {
	tests := []struct {
		name      string
		broker    map[string]string
		overrides map[string]string
		check     func(Topic) (got, want any)
	}{
		{"retention override", nil, map[string]string{"retention.ms": "1500"},
			func(t Topic) (any, any) { return t.Log.RetentionMs, 1500 * time.Millisecond }},
		{"retention -1 is negative", nil, map[string]string{"retention.ms": "-1"},
			func(t Topic) (any, any) { return t.Log.RetentionMs < 0, true }},
		{"retention MaxInt64 saturates", nil, map[string]string{"retention.ms": "9223372036854775807"},
			func(t Topic) (any, any) { return t.Log.RetentionMs, time.Duration(math.MaxInt64) }},
		{"retention hours", map[string]string{"log.retention.hours": "1"}, nil,
			func(t Topic) (any, any) { return t.Log.RetentionMs, time.Hour }},
		{"retention minutes beat hours", map[string]string{"log.retention.hours": "1", "log.retention.minutes": "2"}, nil,
			func(t Topic) (any, any) { return t.Log.RetentionMs, 2 * time.Minute }},
		{"retention ms beats minutes and hours", map[string]string{"log.retention.hours": "1", "log.retention.minutes": "2", "log.retention.ms": "3"}, nil,
			func(t Topic) (any, any) { return t.Log.RetentionMs, 3 * time.Millisecond }},
		{"negative hours mean forever", map[string]string{"log.retention.hours": "-5"}, nil,
			func(t Topic) (any, any) { return t.Log.RetentionMs, -time.Millisecond }},
		{"override beats broker", map[string]string{"log.retention.ms": "3"}, map[string]string{"retention.ms": "4"},
			func(t Topic) (any, any) { return t.Log.RetentionMs, 4 * time.Millisecond }},
		{"roll hours", map[string]string{"log.roll.hours": "2"}, nil,
			func(t Topic) (any, any) { return t.Log.SegmentMs, 2 * time.Hour }},
		{"roll ms beats hours", map[string]string{"log.roll.hours": "2", "log.roll.ms": "10"}, nil,
			func(t Topic) (any, any) { return t.Log.SegmentMs, 10 * time.Millisecond }},
		{"jitter hours", map[string]string{"log.roll.jitter.hours": "1"}, nil,
			func(t Topic) (any, any) { return t.SegmentJitterMs, int64(3600000) }},
		{"flush.ms from scheduler interval", map[string]string{"log.flush.scheduler.interval.ms": "2000"}, nil,
			func(t Topic) (any, any) { return t.Log.FlushMs, 2 * time.Second }},
		{"flush.ms interval beats scheduler", map[string]string{"log.flush.scheduler.interval.ms": "2000", "log.flush.interval.ms": "1000"}, nil,
			func(t Topic) (any, any) { return t.Log.FlushMs, time.Second }},
		// storage reads 0 as "default" and a negative delay as "at once".
		{"file delete delay", map[string]string{"log.segment.delete.delay.ms": "0"}, nil,
			func(t Topic) (any, any) { return t.Log.FileDeleteDelay, time.Duration(-1) }},
		{"retention.ms=0 deletes at once", nil, map[string]string{"retention.ms": "0"},
			func(t Topic) (any, any) { return t.Log.RetentionMs, time.Nanosecond }},
		{"segment bytes from broker", map[string]string{"log.segment.bytes": "2097152"}, nil,
			func(t Topic) (any, any) { return t.Log.SegmentBytes, int64(2097152) }},
		{"internal.segment.bytes for tests", nil, map[string]string{"segment.bytes": "1048576", "internal.segment.bytes": "1024"},
			func(t Topic) (any, any) { return t.Log.SegmentBytes, int64(1024) }},
		{"compact", map[string]string{"log.cleanup.policy": "compact"}, nil,
			func(t Topic) (any, any) {
				return [3]any{t.CleanupPolicyCompact, t.CleanupPolicyDelete, t.Log.CleanupPolicy}, [3]any{true, false, storage.CleanupCompact}
			}},
		{"compact,delete", nil, map[string]string{"cleanup.policy": "compact,delete"},
			func(t Topic) (any, any) {
				return [3]any{t.CleanupPolicyCompact, t.CleanupPolicyDelete, t.Log.CleanupPolicy}, [3]any{true, true, storage.CleanupCompact | storage.CleanupDelete}
			}},
		{"log append time", map[string]string{"log.message.timestamp.type": "LogAppendTime"}, nil,
			func(t Topic) (any, any) { return t.LogAppendTime, true }},
		{"max.message.bytes from message.max.bytes", map[string]string{"message.max.bytes": "2000000"}, nil,
			func(t Topic) (any, any) { return t.MaxMessageBytes, int32(2000000) }},
		{"min.insync.replicas", map[string]string{"min.insync.replicas": "2"}, map[string]string{},
			func(t Topic) (any, any) { return t.MinInsyncReplicas, int32(2) }},
		{"producer id expiration", map[string]string{"producer.id.expiration.ms": "1000"}, nil,
			func(t Topic) (any, any) { return t.Log.ProducerIDExpiration, time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustBroker(t, tt.broker)
			got, want := tt.check(b.ResolveTopic(tt.overrides))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func findEntry(es []Entry, name string) (Entry, bool) {
	for _, e := range es {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

type syn3 struct {
	Name   string
	Value  string
	Source Source
}

func synonymsOf(e Entry) []syn3 {
	var out []syn3
	for _, s := range e.Synonyms {
		out = append(out, syn3{s.Name, s.Value, s.Source})
	}
	return out
}

func TestTopicEntriesSourcesAndSynonyms(t *testing.T) {
	tests := []struct {
		name      string
		broker    map[string]string
		overrides map[string]string
		entry     string
		value     string
		source    Source
		synonyms  []syn3
	}{
		// Kafka 4.4 names only the first broker synonym (log.retention.ms):
		// the hours variant still supplies the value, but the source is
		// DEFAULT_CONFIG and nothing is listed for it.
		{"retention default", nil, nil, "retention.ms", "604800000", SourceDefault, nil},
		{"retention from static hours", map[string]string{"log.retention.hours": "24"}, nil, "retention.ms", "86400000", SourceDefault, nil},
		{"retention override over static hours", map[string]string{"log.retention.hours": "24"}, map[string]string{"retention.ms": "1000"},
			"retention.ms", "1000", SourceDynamicTopic,
			[]syn3{{"retention.ms", "1000", SourceDynamicTopic}}},
		{"retention ms and hours static", map[string]string{"log.retention.hours": "24", "log.retention.ms": "5000"}, nil,
			"retention.ms", "5000", SourceStaticBroker,
			[]syn3{{"log.retention.ms", "5000", SourceStaticBroker}, {"log.retention.hours", "24", SourceStaticBroker}, {"log.retention.hours", "168", SourceDefault}}},
		{"max.message.bytes default", nil, nil, "max.message.bytes", "1048588", SourceDefault,
			[]syn3{{"message.max.bytes", "1048588", SourceDefault}}},
		{"segment.ms from roll hours", map[string]string{"log.roll.hours": "1"}, nil, "segment.ms", "3600000", SourceDefault, nil},
		{"no broker synonym", nil, nil, "leader.replication.throttled.replicas", "", SourceDefault, nil},
		{"same-name synonym", map[string]string{"min.insync.replicas": "2"}, nil, "min.insync.replicas", "2", SourceStaticBroker,
			[]syn3{{"min.insync.replicas", "2", SourceStaticBroker}, {"min.insync.replicas", "1", SourceDefault}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustBroker(t, tt.broker)
			es := b.TopicEntries(tt.overrides)
			e, ok := findEntry(es, tt.entry)
			if !ok {
				t.Fatalf("no entry %s", tt.entry)
			}
			if e.Value != tt.value || e.Source != tt.source || e.ReadOnly || e.Doc == "" {
				t.Errorf("entry = %q %v (readOnly %v), want %q %v", e.Value, e.Source, e.ReadOnly, tt.value, tt.source)
			}
			if got := synonymsOf(e); !reflect.DeepEqual(got, tt.synonyms) {
				t.Errorf("synonyms = %v\nwant %v", got, tt.synonyms)
			}
		})
	}
}

func TestTopicEntriesListing(t *testing.T) {
	es := mustBroker(t, nil).TopicEntries(map[string]string{"internal.segment.bytes": "1024"})
	for i := 1; i < len(es); i++ {
		if es[i-1].Name >= es[i].Name {
			t.Errorf("not sorted: %s, %s", es[i-1].Name, es[i].Name)
		}
	}
	if _, ok := findEntry(es, "internal.segment.bytes"); ok {
		t.Error("internal config listed")
	}
	if len(es) != len(topicDefs)-1 {
		t.Errorf("%d entries, want %d", len(es), len(topicDefs)-1)
	}
}

func TestBrokerEntries(t *testing.T) {
	b := mustBroker(t, map[string]string{"log.retention.hours": "24", "num.partitions": "4"})
	es := b.Entries()
	for i := 1; i < len(es); i++ {
		if es[i-1].Name >= es[i].Name {
			t.Errorf("not sorted: %s, %s", es[i-1].Name, es[i].Name)
		}
	}
	e, _ := findEntry(es, "num.partitions")
	if e.Value != "4" || e.Source != SourceStaticBroker || !e.ReadOnly || e.Type != TypeInt {
		t.Errorf("num.partitions = %+v", e)
	}
	if got := synonymsOf(e); !reflect.DeepEqual(got, []syn3{{"num.partitions", "4", SourceStaticBroker}, {"num.partitions", "1", SourceDefault}}) {
		t.Errorf("num.partitions synonyms = %v", got)
	}
	e, _ = findEntry(es, "log.retention.ms")
	if !e.Null || e.Source != SourceDefault {
		t.Errorf("log.retention.ms = %+v", e)
	}
	if got := synonymsOf(e); got != nil {
		t.Errorf("log.retention.ms synonyms = %v, want none (no value anywhere, no default)", got)
	}
	e, _ = findEntry(es, "log.retention.hours")
	if got := synonymsOf(e); !reflect.DeepEqual(got, []syn3{{"log.retention.hours", "24", SourceStaticBroker}, {"log.retention.hours", "168", SourceDefault}}) || !e.ReadOnly {
		t.Errorf("log.retention.hours synonyms = %v read-only %v", got, e.ReadOnly)
	}
	if _, ok := b.Get("num.io.threads"); ok {
		t.Error("ignored key is not a property")
	}
	if _, ok := b.Get("retention.ms"); ok {
		t.Error("topic config is not a broker property")
	}
}
