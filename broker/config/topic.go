package config

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/samsa-io/samsa/storage"
)

// Topic is a topic's resolved configuration.
type Topic struct {
	CleanupPolicyCompact bool  // cleanup.policy contains "compact"
	CleanupPolicyDelete  bool  // cleanup.policy contains "delete"
	MaxMessageBytes      int32 // max.message.bytes
	// MaxRecordBytes is max.decompressed.message.bytes: the largest
	// record of a compressed batch once inflated.
	MaxRecordBytes    int32
	LogAppendTime     bool // message.timestamp.type=LogAppendTime
	MinInsyncReplicas int32
	// CompressionType is compression.type: producer, uncompressed, gzip,
	// snappy, lz4 or zstd.
	CompressionType string
	// TimestampBeforeMaxMs and TimestampAfterMaxMs bound a CreateTime
	// batch's timestamp against the broker clock
	// (message.timestamp.{before,after}.max.ms); Kafka 4 rejects batches
	// more than an hour in the future by default.
	TimestampBeforeMaxMs   int64
	TimestampAfterMaxMs    int64
	UncleanLeaderElection  bool
	Preallocate            bool
	SegmentJitterMs        int64   // segment.jitter.ms
	DeleteRetentionMs      int64   // delete.retention.ms
	MinCompactionLagMs     int64   // min.compaction.lag.ms
	MaxCompactionLagMs     int64   // max.compaction.lag.ms
	MinCleanableDirtyRatio float64 // min.cleanable.dirty.ratio
	// CompressionLevel is compression.<codec>.level of CompressionType's
	// codec (the level recompression uses).
	CompressionLevel int
	Log              storage.Config
}

// IsTopicConfig reports whether name is a known topic-level config.
func IsTopicConfig(name string) bool { return topicDefs[name] != nil }

// ValidateTopicConfigs checks topic-level overrides (CreateTopics,
// AlterConfigs): every key must be a known topic config and every value
// valid. Errors are *Error values (joined when several), ordered by key.
func ValidateTopicConfigs(overrides map[string]string) error {
	keys := make([]string, 0, len(overrides))
	for k := range overrides {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		v := strings.TrimSpace(overrides[k])
		d := topicDefs[k]
		if d == nil {
			errs = append(errs, &Error{Key: k, Value: v, Unknown: true, Reason: "Unknown topic config name: " + k})
			continue
		}
		if err := d.validate(v); err != nil {
			errs = append(errs, &Error{Key: k, Value: v, Reason: err.Error()})
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// LogConfig.validateValues, for the pair when both are given.
	if lo, ok := overrides["min.compaction.lag.ms"]; ok {
		if hi, ok := overrides["max.compaction.lag.ms"]; ok {
			l, _ := strconv.ParseInt(strings.TrimSpace(lo), 10, 64)
			h, _ := strconv.ParseInt(strings.TrimSpace(hi), 10, 64)
			if l > h {
				return &Error{Key: "min.compaction.lag.ms", Value: strings.TrimSpace(lo),
					Reason: fmt.Sprintf("conflict topic config setting min.compaction.lag.ms (%d) > max.compaction.lag.ms (%d)", l, h)}
			}
		}
	}
	return nil
}

// Inert is a setting samsa accepts but does not act on yet.
type Inert struct {
	Name, Value string
	Reason      string // why it has no effect
}

// InertTopicConfigs returns, sorted by name, the overrides that set an inert
// topic config to a value other than its default. The caller logs them at
// warn level. overrides are assumed valid.
func InertTopicConfigs(overrides map[string]string) []Inert {
	var out []Inert
	for k, v := range overrides {
		v = strings.TrimSpace(v)
		if d := topicDefs[k]; d != nil && d.status == inert && !d.isDefault(v) {
			out = append(out, Inert{Name: k, Value: v, Reason: d.why})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// topicDefault returns topic config d's value when the topic does not
// override it: the first broker synonym set (dynamically or statically),
// converted to the topic's unit, else the default.
func (b *Broker) topicDefault(d *def) string {
	for _, s := range d.synonyms {
		v, _, ok := b.layered(s.name)
		if !ok {
			continue
		}
		if s.factor == 1 && d.name != "retention.ms" {
			return v
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		n *= s.factor
		if d.name == "retention.ms" && n < 0 {
			n = -1 // KafkaConfig.logRetentionTimeMillis: any negative is "forever"
		}
		return strconv.FormatInt(n, 10)
	}
	return d.dflt
}

// topicValue returns topic config d's effective value and its source:
// the topic's override, else the first broker synonym set, converted
// (log.retention.hours still makes retention.ms), else the default. The
// source is Kafka 4.4's: the override's, else that of the first synonym
// (log.retention.ms for retention.ms) where any layer sets it, else
// DEFAULT_CONFIG, also when a later synonym supplied the value.
func (b *Broker) topicValue(d *def, overrides map[string]string) (string, Source) {
	if v, ok := overrides[d.name]; ok {
		return strings.TrimSpace(v), SourceDynamicTopic
	}
	src := SourceDefault
	if len(d.synonyms) > 0 {
		if _, s, ok := b.layered(d.synonyms[0].name); ok {
			src = s
		}
	}
	return b.topicDefault(d), src
}

// ResolveTopic merges a topic's overrides over the broker's defaults.
// overrides are assumed valid (ValidateTopicConfigs ran when they were set);
// an invalid one reads as zero.
func (b *Broker) ResolveTopic(overrides map[string]string) Topic {
	str := func(name string) string {
		v, _ := b.topicValue(topicDefs[name], overrides)
		return v
	}
	i64 := func(name string) int64 {
		n, _ := strconv.ParseInt(str(name), 10, 64)
		return n
	}
	boolean := func(name string) bool { return strings.EqualFold(str(name), "true") }

	t := Topic{
		MaxMessageBytes:       int32(i64("max.message.bytes")),
		MaxRecordBytes:        int32(i64("max.decompressed.message.bytes")),
		LogAppendTime:         str("message.timestamp.type") == "LogAppendTime",
		MinInsyncReplicas:     int32(i64("min.insync.replicas")),
		CompressionType:       str("compression.type"),
		TimestampBeforeMaxMs:  i64("message.timestamp.before.max.ms"),
		TimestampAfterMaxMs:   i64("message.timestamp.after.max.ms"),
		UncleanLeaderElection: boolean("unclean.leader.election.enable"),
		Preallocate:           boolean("preallocate"),
		SegmentJitterMs:       i64("segment.jitter.ms"),
		DeleteRetentionMs:     i64("delete.retention.ms"),
		MinCompactionLagMs:    i64("min.compaction.lag.ms"),
		MaxCompactionLagMs:    i64("max.compaction.lag.ms"),
	}
	t.MinCleanableDirtyRatio, _ = strconv.ParseFloat(str("min.cleanable.dirty.ratio"), 64)
	switch t.CompressionType {
	case "gzip":
		t.CompressionLevel = int(i64("compression.gzip.level"))
	case "lz4":
		t.CompressionLevel = int(i64("compression.lz4.level"))
	case "zstd":
		t.CompressionLevel = int(i64("compression.zstd.level"))
	}
	for _, p := range splitList(str("cleanup.policy")) {
		switch strings.ToLower(p) {
		case "compact":
			t.CleanupPolicyCompact = true
		case "delete":
			t.CleanupPolicyDelete = true
		}
	}

	segmentBytes := i64("segment.bytes")
	if v, ok := overrides["internal.segment.bytes"]; ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32); err == nil && n > 0 {
			segmentBytes = n
		}
	}
	t.Log = storage.Config{
		SegmentBytes:         segmentBytes,
		SegmentMs:            msToDuration(i64("segment.ms")),
		SegmentIndexBytes:    int32(i64("segment.index.bytes")),
		IndexIntervalBytes:   int32(i64("index.interval.bytes")),
		RetentionMs:          msToDuration(i64("retention.ms")),
		RetentionBytes:       i64("retention.bytes"),
		FlushMessages:        i64("flush.messages"),
		FlushMs:              msToDuration(i64("flush.ms")),
		FileDeleteDelay:      msToDuration(i64("file.delete.delay.ms")),
		ProducerIDExpiration: b.ProducerIDExpiration,
	}
	if t.CleanupPolicyDelete {
		t.Log.CleanupPolicy |= storage.CleanupDelete
	}
	if t.CleanupPolicyCompact {
		t.Log.CleanupPolicy |= storage.CleanupCompact
	}
	t.Log.SegmentJitter = msToDuration(t.SegmentJitterMs)
	t.Log.Preallocate = t.Preallocate
	t.Log.DeleteRetention = msToDuration(t.DeleteRetentionMs)
	t.Log.MinCompactionLag = msToDuration(t.MinCompactionLagMs)
	t.Log.MaxCompactionLag = msToDuration(t.MaxCompactionLagMs)
	t.Log.MinCleanableRatio = t.MinCleanableDirtyRatio
	// storage.Config reads a zero field as "Kafka's default"; Kafka's own
	// zeros mean "at once" / "every time", so map them to the smallest value
	// storage takes with that meaning.
	if t.Log.RetentionMs == 0 {
		t.Log.RetentionMs = time.Nanosecond
	}
	if t.Log.RetentionBytes == 0 {
		t.Log.RetentionBytes = 1
	}
	if t.Log.FlushMs == 0 {
		t.Log.FlushMs = time.Nanosecond
	}
	if t.Log.FileDeleteDelay == 0 {
		t.Log.FileDeleteDelay = -1
	}
	if t.Log.DeleteRetention == 0 {
		t.Log.DeleteRetention = time.Nanosecond // tombstones go at the next cleaning
	}
	if t.Log.MinCleanableRatio == 0 {
		t.Log.MinCleanableRatio = math.SmallestNonzeroFloat64 // any dirty byte
	}
	if t.Log.IndexIntervalBytes == 0 {
		t.Log.IndexIntervalBytes = 1
	}
	return t
}

// TopicEntries returns every topic config's effective value and source for
// DescribeConfigs(TOPIC), sorted by name. Synonyms follow Kafka 4.4: the
// topic override (TOPIC_CONFIG), then the sources of the first broker
// synonym only (ServerTopicConfigSynonyms: log.retention.ms for
// retention.ms, not its minutes and hours variants), most specific first,
// down to its default; a topic config without a broker synonym has no
// other.
func (b *Broker) TopicEntries(overrides map[string]string) []Entry {
	names := sortedNames(topicDefs)
	out := make([]Entry, 0, len(names))
	for _, n := range names {
		d := topicDefs[n]
		v, src := b.topicValue(d, overrides)
		e := Entry{Name: n, Value: v, Source: src, Type: d.typ, Doc: d.doc}
		if src == SourceDynamicTopic {
			e.Synonyms = append(e.Synonyms, Entry{Name: n, Value: v, Source: SourceDynamicTopic, Type: d.typ})
		}
		if len(d.synonyms) > 0 {
			e.Synonyms = append(e.Synonyms, b.brokerSynonyms(d.synonyms[0].name)...)
		}
		out = append(out, e)
	}
	return out
}

// Kafka's own segment size of its internal topics (offsets.topic.segment.bytes
// and transaction.state.log.segment.bytes, both 100 MiB by default).
const internalSegmentBytes = "104857600"

// InternalTopicConfigs returns the overrides Kafka creates an internal
// topic with (GroupCoordinator's offsets topic configs,
// TransactionStateManager's transaction log configs): __consumer_offsets and
// __transaction_state are compacted, with 100 MiB segments; the
// transaction log is uncompressed, takes transaction.state.log.min.isr as
// its min.insync.replicas and never elects an unclean leader. nil for any
// other topic. (samsa keeps group and transaction state in etcd, not in
// these topics' logs: the configs describe them as Kafka does.)
func (b *Broker) InternalTopicConfigs(name string) map[string]string {
	switch name {
	case "__consumer_offsets":
		return map[string]string{
			"cleanup.policy":   "compact",
			"compression.type": "producer",
			"segment.bytes":    internalSegmentBytes,
		}
	case "__transaction_state":
		return map[string]string{
			"cleanup.policy":                 "compact",
			"compression.type":               "uncompressed",
			"min.insync.replicas":            strconv.FormatInt(b.Int64("transaction.state.log.min.isr"), 10),
			"segment.bytes":                  internalSegmentBytes,
			"unclean.leader.election.enable": "false",
		}
	}
	return nil
}

// CreatedTopicEntries returns every topic config's effective value and
// source as CreateTopics v5+ reports them for a topic just created, sorted
// by name and without synonyms. The source is that of the first broker
// synonym some layer sets, log.retention.hours included (Kafka's
// controller answers so, unlike its DescribeConfigs: a static
// log.retention.hours=168 makes retention.ms STATIC_BROKER_CONFIG there).
func (b *Broker) CreatedTopicEntries(overrides map[string]string) []Entry {
	out := b.TopicEntries(overrides)
	for i := range out {
		e := &out[i]
		e.Synonyms = nil
		if e.Source == SourceDynamicTopic {
			continue
		}
		e.Source = SourceDefault
		for _, s := range topicDefs[e.Name].synonyms {
			if _, src, ok := b.layered(s.name); ok {
				e.Source = src
				break
			}
		}
	}
	return out
}
