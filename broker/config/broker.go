package config

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// NewBroker validates props (key -> value, already merged with precedence
// defaults < file < env < flags by the caller; every one is static) and
// returns the broker configuration. Unknown keys and bad values return an
// error wrapping ErrInvalid that names the key; when several are wrong, the
// *Error values are joined (errors.Join), ordered by key.
//
// Kafka-only properties that mean nothing to samsa (zookeeper.connect,
// num.io.threads, confluent.*, ...) are accepted and reported by
// IgnoredKeys and Warnings.
func NewBroker(props map[string]string) (*Broker, error) {
	b := &Broker{
		static:  make(map[string]string),
		ignored: make(map[string]string),
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	var errs []error
	for _, k := range keys {
		v := strings.TrimSpace(props[k])
		d := brokerDefs[k]
		switch {
		case d != nil:
			if err := d.validate(v); err != nil {
				errs = append(errs, &Error{Key: k, Value: v, Reason: err.Error()})
				continue
			}
			b.static[k] = v
		case strings.HasPrefix(k, "listener.name."):
			ld, err := listenerProperty(k)
			if err != nil {
				errs = append(errs, &Error{Key: k, Value: v, Unknown: true, Reason: err.Error()})
				continue
			}
			if err := ld.validate(v); err != nil {
				errs = append(errs, &Error{Key: k, Value: v, Reason: err.Error()})
				continue
			}
			b.static[k] = v
		case isIgnored(k):
			b.ignored[k] = v
		case topicDefs[k] != nil:
			reason := fmt.Sprintf("unknown broker property %q: it is a topic config", k)
			if s := topicDefs[k].synonyms; len(s) > 0 {
				reason += "; its broker default is " + s[0].name
			}
			errs = append(errs, &Error{Key: k, Value: v, Unknown: true, Reason: reason})
		default:
			errs = append(errs, &Error{Key: k, Value: v, Unknown: true, Reason: fmt.Sprintf("unknown broker property %q", k)})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := b.derive(); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if d := brokerDefs[k]; d != nil && d.status == inert && !d.isDefault(b.static[k]) {
			b.inert = append(b.inert, Inert{Name: k, Value: b.static[k], Reason: d.why})
		}
	}
	for _, k := range b.IgnoredKeys() {
		b.warnings = append(b.warnings, fmt.Sprintf("property %s is accepted for compatibility but has no effect in samsa", k))
	}
	return b, nil
}

// IsBrokerKey reports whether NewBroker knows name: a broker property or
// one of the Kafka properties it accepts and ignores (IgnoredKeys).
func IsBrokerKey(name string) bool { return brokerDefs[name] != nil || isIgnored(name) }

// derive fills the typed fields and checks the rules that span properties.
func (b *Broker) derive() error {
	var errs []error
	bad := func(key, reason string) {
		v, _ := b.raw(key)
		errs = append(errs, &Error{Key: key, Value: v, Reason: reason})
	}

	// Identity: node.id is Kafka 4's name; broker.id the older one.
	b.BrokerID = int32(b.Int64("broker.id"))
	if nid, ok := b.static["node.id"]; ok {
		if bid, ok := b.static["broker.id"]; ok && bid != nid {
			bad("node.id", fmt.Sprintf("broker.id (%s) and node.id (%s) are both set and differ", bid, nid))
		}
		b.BrokerID = int32(b.Int64("node.id"))
	}
	b.Rack = b.Str("broker.rack")

	// Data directory: the first of log.dirs, else log.dir.
	b.DataDir = b.Str("log.dir")
	if _, ok := b.static["log.dirs"]; ok {
		dirs := splitList(b.static["log.dirs"])
		if len(dirs) == 0 {
			bad("log.dirs", "must name at least one directory")
		} else {
			b.DataDir = dirs[0]
			b.DataDirs = dirs
		}
	}
	if b.DataDir == "" {
		bad("log.dir", "must not be empty")
	}
	if len(b.DataDirs) == 0 {
		b.DataDirs = []string{b.DataDir}
	}

	b.EtcdEndpoints = splitList(b.Str("etcd.endpoints"))
	b.EtcdPrefix = b.Str("etcd.prefix")
	b.AdoptExistingData = b.Bool("samsa.adopt.existing.data")
	b.TransactionsEnabled = b.Bool("samsa.transactions.enable")
	b.RecoveryThreads = int(b.Int64("num.recovery.threads.per.data.dir"))

	if err := b.deriveListeners(); err != nil {
		errs = append(errs, err)
	} else if err := b.deriveQuorum(); err != nil {
		errs = append(errs, err)
	} else if err := b.deriveSecurity(); err != nil {
		errs = append(errs, err)
	}
	b.SessionTimeout = msToDuration(b.Int64("broker.session.timeout.ms"))

	b.NumPartitions = int32(b.Int64("num.partitions"))
	b.DefaultReplicationFactor = int16(b.Int64("default.replication.factor"))
	b.AutoCreateTopics = b.Bool("auto.create.topics.enable")
	b.DeleteTopicEnable = b.Bool("delete.topic.enable")
	b.SocketRequestMaxBytes = int32(b.Int64("socket.request.max.bytes"))
	b.ConnectionsMaxIdle = msToDuration(b.Int64("connections.max.idle.ms"))
	b.FetchMaxBytes = int32(b.Int64("fetch.max.bytes"))
	b.MaxConnections = int32(b.Int64("max.connections"))
	b.MaxConnectionsPerIP = int32(b.Int64("max.connections.per.ip"))
	b.MaxConnectionsPerIPOverrides, _ = ParseConnectionOverrides(b.Str("max.connections.per.ip.overrides")) // validated
	b.MaxPartitionsPerRequest = int32(b.Int64("max.partitions.per.request"))
	b.MessageMaxBytes = int32(b.Int64("message.max.bytes"))
	b.MinInsyncReplicas = int32(b.Int64("min.insync.replicas"))
	b.RetentionCheckInterval = msToDuration(b.Int64("log.retention.check.interval.ms"))
	b.CacheHotBytes = b.Int64("log.cache.hot.bytes")
	b.CacheHotTotalBytes = b.Int64("log.cache.hot.total.bytes")
	b.GroupInitialRebalanceDelay = msToDuration(b.Int64("group.initial.rebalance.delay.ms"))
	b.GroupMinSessionTimeout = msToDuration(b.Int64("group.min.session.timeout.ms"))
	b.GroupMaxSessionTimeout = msToDuration(b.Int64("group.max.session.timeout.ms"))
	b.OffsetsTopicNumPartitions = int32(b.Int64("offsets.topic.num.partitions"))
	b.OffsetsTopicReplication = int16(b.Int64("offsets.topic.replication.factor"))
	b.OffsetsRetention = msToDuration(b.Int64("offsets.retention.minutes") * msPerMinute)
	b.TxnTopicNumPartitions = int32(b.Int64("transaction.state.log.num.partitions"))
	b.TxnTopicReplication = int16(b.Int64("transaction.state.log.replication.factor"))
	b.TxnTopicMinISR = int32(b.Int64("transaction.state.log.min.isr"))
	b.TransactionMaxTimeout = msToDuration(b.Int64("transaction.max.timeout.ms"))
	b.TransactionalIDExpiration = msToDuration(b.Int64("transactional.id.expiration.ms"))
	b.TxnAbortTimedOutInterval = msToDuration(b.Int64("transaction.abort.timed.out.transaction.cleanup.interval.ms"))
	b.TxnRemoveExpiredInterval = msToDuration(b.Int64("transaction.remove.expired.transaction.cleanup.interval.ms"))
	b.ProducerIDExpiration = msToDuration(b.Int64("producer.id.expiration.ms"))

	// Topics the broker creates itself obey the request limit too.
	for _, k := range []string{"num.partitions", "offsets.topic.num.partitions", "transaction.state.log.num.partitions"} {
		if n := b.Int64(k); n > int64(b.MaxPartitionsPerRequest) {
			bad(k, fmt.Sprintf("must not exceed max.partitions.per.request (%d)", b.MaxPartitionsPerRequest))
		}
	}
	if b.MaxConnectionsPerIP == 0 && len(b.MaxConnectionsPerIPOverrides) == 0 {
		bad("max.connections.per.ip", "can be 0 only if max.connections.per.ip.overrides is set")
	}
	if b.GroupMinSessionTimeout > b.GroupMaxSessionTimeout {
		bad("group.min.session.timeout.ms", "must not exceed group.max.session.timeout.ms")
	}
	// GroupCoordinatorConfig: the KIP-848 defaults lie within their bounds.
	for _, r := range [][3]string{
		{"group.consumer.session.timeout.ms", "group.consumer.min.session.timeout.ms", "group.consumer.max.session.timeout.ms"},
		{"group.consumer.heartbeat.interval.ms", "group.consumer.min.heartbeat.interval.ms", "group.consumer.max.heartbeat.interval.ms"},
	} {
		v, lo, hi := b.Int64(r[0]), b.Int64(r[1]), b.Int64(r[2])
		if lo > hi {
			bad(r[1], "must not exceed "+r[2])
		} else if v < lo || v > hi {
			bad(r[0], fmt.Sprintf("must be within %s and %s (%d to %d)", r[1], r[2], lo, hi))
		}
	}
	// KafkaConfig: the effective retention (ms > minutes > hours) must be
	// -1 (any negative) or at least 1 ms.
	if ms, _ := strconv.ParseInt(b.topicDefault(topicDefs["retention.ms"]), 10, 64); ms == 0 {
		key := "log.retention.hours"
		for _, s := range topicDefs["retention.ms"].synonyms {
			if _, ok := b.static[s.name]; ok {
				key = s.name
				break
			}
		}
		bad(key, "log.retention.ms must be unlimited (-1) or, equal or greater than 1")
	}
	if b.Int64("log.cleaner.min.compaction.lag.ms") > b.Int64("log.cleaner.max.compaction.lag.ms") {
		bad("log.cleaner.min.compaction.lag.ms", "must not exceed log.cleaner.max.compaction.lag.ms")
	}
	// Kafka's CleanerConfig: every cleaner thread gets at least 1 MiB of
	// key map.
	if threads := b.Int64("log.cleaner.threads"); b.Bool("log.cleaner.enable") && threads > 0 &&
		b.Int64("log.cleaner.dedupe.buffer.size")/threads < 1<<20 {
		bad("log.cleaner.dedupe.buffer.size", "must be at least 1MB per cleaner thread (log.cleaner.threads)")
	}
	return errors.Join(errs...)
}

// Entries returns every broker property for DescribeConfigs(BROKER), sorted
// by name, each with its synonyms: the property's own sources from the most
// specific (dynamic per broker, dynamic default, static, default), as Kafka
// 4.4 lists them (its minutes and hours variants are separate properties).
func (b *Broker) Entries() []Entry {
	names := sortedNames(brokerDefs)
	out := make([]Entry, 0, len(names))
	for _, n := range names {
		e, _ := b.Get(n)
		out = append(out, e)
	}
	return out
}

// Get returns one effective broker property.
func (b *Broker) Get(name string) (Entry, bool) {
	d := brokerDefs[name]
	if d == nil {
		return Entry{}, false
	}
	e := Entry{
		Name:     name,
		Type:     d.typ,
		ReadOnly: d.readOnly,
		Doc:      d.doc,
		Source:   SourceDefault,
	}
	if v, src, ok := b.layered(name); ok {
		e.Value, e.Source = v, src
	} else if d.noDefault {
		e.Null = true
	} else {
		e.Value = d.dflt
	}
	e.Synonyms = b.brokerSynonyms(name)
	return e, true
}

// brokerSynonyms returns the synonyms of one broker property as Kafka 4.4
// lists them (ConfigHelper.configSynonyms): for each source from the most
// specific (dynamic per broker, dynamic default, static, default), every
// property of its synonym group that source sets (brokerSynonymGroup:
// log.retention.ms, .minutes and .hours are one group), then everything
// before the property's own first entry dropped. So a dynamic
// log.retention.ms lists itself, then a static and the default
// log.retention.hours; without one, log.retention.ms has no synonyms.
func (b *Broker) brokerSynonyms(name string) []Entry {
	group := brokerSynonymGroup(name)
	var out []Entry
	for _, l := range []struct {
		m   map[string]string
		src Source
	}{{b.dynBroker, SourceDynamicBroker}, {b.dynDefault, SourceDynamicDefault}, {b.static, SourceStaticBroker}, {nil, SourceDefault}} {
		for _, n := range group {
			d := brokerDefs[n]
			if d == nil {
				continue
			}
			v, ok := l.m[n]
			if l.src == SourceDefault {
				v, ok = d.dflt, !d.noDefault
			}
			if ok {
				out = append(out, Entry{Name: n, Value: v, Source: l.src, Type: d.typ})
			}
		}
	}
	for len(out) > 0 && out[0].Name != name {
		out = out[1:]
	}
	return out
}

// brokerSynonymGroup is Kafka's DynamicBrokerConfig.brokerConfigSynonyms:
// the properties that set the same thing, most precise first
// (log.flush.scheduler.interval.ms stands in for log.flush.interval.ms,
// not the other way round).
func brokerSynonymGroup(name string) []string {
	switch name {
	case "log.roll.ms", "log.roll.hours":
		return []string{"log.roll.ms", "log.roll.hours"}
	case "log.roll.jitter.ms", "log.roll.jitter.hours":
		return []string{"log.roll.jitter.ms", "log.roll.jitter.hours"}
	case "log.flush.interval.ms":
		return []string{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"}
	case "log.retention.ms", "log.retention.minutes", "log.retention.hours":
		return []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"}
	}
	return []string{name}
}

// IgnoredKeys returns, sorted, the Kafka properties that were set but have
// no effect in samsa (KRaft/ZooKeeper settings, thread pools, confluent.*).
func (b *Broker) IgnoredKeys() []string {
	out := make([]string, 0, len(b.ignored))
	for k := range b.ignored {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Warnings returns human-readable notes about accepted settings that samsa
// does not honour fully (ignored keys, dropped controller listeners, extra
// log.dirs). The caller logs them at warn level.
func (b *Broker) Warnings() []string { return append([]string(nil), b.warnings...) }

// Inert returns, sorted by name, the broker properties set to a value other
// than their default that have no effect in samsa yet (the compaction,
// replication and transaction settings, ...). The caller logs them at warn
// level, with where each was set.
func (b *Broker) Inert() []Inert { return append([]Inert(nil), b.inert...) }

// raw returns the value of a broker property as set (dynamically or
// statically), else its default; ok is false when it is unset with a null
// default.
func (b *Broker) raw(name string) (string, bool) {
	if v, _, ok := b.layered(name); ok {
		return v, true
	}
	if d := brokerDefs[name]; d != nil && !d.noDefault {
		return d.dflt, true
	}
	return "", false
}

func (b *Broker) mustDef(name string) *def {
	d := brokerDefs[name]
	if d == nil {
		panic("config: unknown broker property " + name)
	}
	return d
}

// Int64 returns a numeric broker property (SHORT, INT or LONG); 0 if it is
// unset with a null default. It panics on a name that is not a numeric
// broker property: that is a bug in the caller, not bad input.
func (b *Broker) Int64(name string) int64 {
	if t := b.mustDef(name).typ; t != TypeShort && t != TypeInt && t != TypeLong {
		panic("config: " + name + " is not numeric")
	}
	v, _ := b.raw(name)
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// Bool returns a BOOLEAN broker property; it panics like Int64.
func (b *Broker) Bool(name string) bool {
	if b.mustDef(name).typ != TypeBoolean {
		panic("config: " + name + " is not a boolean")
	}
	v, _ := b.raw(name)
	return strings.EqualFold(v, "true")
}

// Float64 returns a DOUBLE broker property; it panics like Int64.
func (b *Broker) Float64(name string) float64 {
	if b.mustDef(name).typ != TypeDouble {
		panic("config: " + name + " is not a double")
	}
	v, _ := b.raw(name)
	f, _ := strconv.ParseFloat(v, 64)
	return f
}

// Str returns any broker property as its string value ("" when null).
func (b *Broker) Str(name string) string {
	b.mustDef(name)
	v, _ := b.raw(name)
	return v
}

// msToDuration converts milliseconds to a Duration, saturating instead of
// overflowing (Kafka's "forever" is Long.MAX_VALUE ms).
func msToDuration(ms int64) time.Duration {
	const maxMs = int64(math.MaxInt64 / int64(time.Millisecond))
	switch {
	case ms > maxMs:
		return time.Duration(math.MaxInt64)
	case ms < -maxMs:
		return time.Duration(math.MinInt64)
	}
	return time.Duration(ms) * time.Millisecond
}
