package config

// Group configs (KIP-848's GROUP config resource, Kafka's GroupConfig):
// per-group overrides of the group coordinator's broker properties, set
// with IncrementalAlterConfigs (kafka-configs.sh --entity-type groups) and
// described with DescribeConfigs. consumer.session.timeout.ms and
// consumer.heartbeat.interval.ms act on the group's KIP-848 members; the
// others are Kafka's too and are accepted as inert (share and streams
// groups, assignment offloading are not implemented).

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// groupDef is one group config: its def (default, type, check, status)
// and the broker property that supplies its default, if samsa has one.
type groupDef struct {
	*def
	broker string
}

var groupTable = []groupDef{
	{&def{name: "consumer.session.timeout.ms", typ: TypeInt, dflt: "45000", check: atLeast(1),
		doc: "Session timeout of the group's KIP-848 members; within group.consumer.min/max.session.timeout.ms."},
		"group.consumer.session.timeout.ms"},
	{&def{name: "consumer.heartbeat.interval.ms", typ: TypeInt, dflt: "5000", check: atLeast(1),
		doc: "Heartbeat interval given to the group's KIP-848 members; within group.consumer.min/max.heartbeat.interval.ms."},
		"group.consumer.heartbeat.interval.ms"},
	{&def{name: "consumer.assignment.interval.ms", status: inert, why: whyAssignmentInterval, typ: TypeInt, dflt: "1000", check: atLeast(0),
		doc: "Least time between two target assignment computations of the group."}, ""},
	{&def{name: "consumer.assignor.offload.enable", internal: true, status: inert, why: whyAssignmentInterval, typ: TypeBoolean, dflt: "true",
		doc: "Compute the group's target assignment off the coordinator's thread."}, ""},
	{&def{name: "errors.deadletterqueue.copy.record.enable", status: inert, why: whyShareGroups, typ: TypeBoolean, dflt: "false",
		doc: "Copy undeliverable records of a share group to its dead-letter queue."}, ""},
	{&def{name: "errors.deadletterqueue.topic.name", status: inert, why: whyShareGroups, typ: TypeString, dflt: "",
		doc: "Dead-letter queue topic of a share group."}, ""},
	{&def{name: "share.assignment.interval.ms", status: inert, why: whyShareGroups, typ: TypeInt, dflt: "1000", check: atLeast(0),
		doc: "Least time between two assignment computations of a share group."}, ""},
	{&def{name: "share.assignor.offload.enable", internal: true, status: inert, why: whyShareGroups, typ: TypeBoolean, dflt: "true",
		doc: "Compute a share group's assignment off the coordinator's thread."}, ""},
	{&def{name: "share.auto.offset.reset", status: inert, why: whyShareGroups, typ: TypeString, dflt: "latest", check: shareOffsetReset,
		doc: "Where a share group starts consuming a partition without a committed offset."}, ""},
	{&def{name: "share.delivery.count.limit", status: inert, why: whyShareGroups, typ: TypeInt, dflt: "5", check: atLeast(2),
		doc: "How many times a share group delivers a record before giving up on it."}, ""},
	{&def{name: "share.heartbeat.interval.ms", status: inert, why: whyShareGroups, typ: TypeInt, dflt: "5000", check: atLeast(1),
		doc: "Heartbeat interval of share group members."}, ""},
	{&def{name: "share.isolation.level", status: inert, why: whyShareGroups, typ: TypeString, dflt: "read_uncommitted", check: stringIn("read_committed", "read_uncommitted"),
		doc: "Isolation level of a share group."}, ""},
	{&def{name: "share.partition.max.record.locks", status: inert, why: whyShareGroups, typ: TypeInt, dflt: "2000", check: atLeast(100),
		doc: "Most in-flight records per share partition."}, ""},
	{&def{name: "share.record.lock.duration.ms", status: inert, why: whyShareGroups, typ: TypeInt, dflt: "30000", check: atLeast(1000),
		doc: "How long a share group member holds a record."}, ""},
	{&def{name: "share.renew.acknowledge.enable", status: inert, why: whyShareGroups, typ: TypeBoolean, dflt: "true",
		doc: "Let share consumers renew their record locks."}, ""},
	{&def{name: "share.session.timeout.ms", status: inert, why: whyShareGroups, typ: TypeInt, dflt: "45000", check: atLeast(1),
		doc: "Session timeout of share group members."}, ""},
	{&def{name: "streams.acceptable.recovery.lag", internal: true, status: inert, why: whyStreamsGroups, typ: TypeLong, dflt: "10000", check: atLeast(0),
		doc: "Lag below which a streams task counts as caught up."}, ""},
	{&def{name: "streams.assignment.interval.ms", status: inert, why: whyStreamsGroups, typ: TypeInt, dflt: "1000", check: atLeast(0),
		doc: "Least time between two assignment computations of a streams group."}, ""},
	{&def{name: "streams.assignor.name", status: inert, why: whyStreamsGroups, typ: TypeString, dflt: "sticky",
		doc: "Assignor of a streams group."}, ""},
	{&def{name: "streams.assignor.offload.enable", internal: true, status: inert, why: whyStreamsGroups, typ: TypeBoolean, dflt: "true",
		doc: "Compute a streams group's assignment off the coordinator's thread."}, ""},
	{&def{name: "streams.heartbeat.interval.ms", status: inert, why: whyStreamsGroups, typ: TypeInt, dflt: "5000", check: atLeast(1),
		doc: "Heartbeat interval of streams group members."}, ""},
	{&def{name: "streams.initial.rebalance.delay.ms", status: inert, why: whyStreamsGroups, typ: TypeInt, dflt: "3000", check: atLeast(0),
		doc: "Delay of a streams group's first assignment."}, ""},
	{&def{name: "streams.num.standby.replicas", status: inert, why: whyStreamsGroups, typ: TypeInt, dflt: "0", check: atLeast(0),
		doc: "Standby replicas per streams task."}, ""},
	{&def{name: "streams.num.warmup.replicas", internal: true, status: inert, why: whyStreamsGroups, typ: TypeInt, dflt: "2", check: atLeast(0),
		doc: "Warm-up replicas per streams task."}, ""},
	{&def{name: "streams.rack.aware.assignment.tags", status: inert, why: whyStreamsGroups, typ: TypeList, dflt: "",
		doc: "Client tags a streams group's assignment spreads over."}, ""},
	{&def{name: "streams.session.timeout.ms", status: inert, why: whyStreamsGroups, typ: TypeInt, dflt: "45000", check: atLeast(1),
		doc: "Session timeout of streams group members."}, ""},
	{&def{name: "streams.task.offset.interval.ms", internal: true, status: inert, why: whyStreamsGroups, typ: TypeInt, dflt: "60000", check: atLeast(1),
		doc: "How often streams group members report task offsets."}, ""},
}

// groupDefaultSynonyms name the default of the group configs samsa has no
// broker property for as Kafka 4.4 does (the broker property it reads the
// default from, GroupCoordinatorConfig and ShareGroupConfig), in the
// DEFAULT_CONFIG synonym DescribeConfigs lists.
var groupDefaultSynonyms = map[string]string{
	"consumer.assignment.interval.ms":    "group.consumer.assignment.interval.ms",
	"share.assignment.interval.ms":       "group.share.assignment.interval.ms",
	"share.delivery.count.limit":         "group.share.delivery.count.limit",
	"share.heartbeat.interval.ms":        "group.share.heartbeat.interval.ms",
	"share.partition.max.record.locks":   "group.share.partition.max.record.locks",
	"share.record.lock.duration.ms":      "group.share.record.lock.duration.ms",
	"share.session.timeout.ms":           "group.share.session.timeout.ms",
	"streams.assignment.interval.ms":     "group.streams.assignment.interval.ms",
	"streams.assignor.name":              "group.streams.assignors",
	"streams.heartbeat.interval.ms":      "group.streams.heartbeat.interval.ms",
	"streams.initial.rebalance.delay.ms": "group.streams.initial.rebalance.delay.ms",
	"streams.num.standby.replicas":       "group.streams.num.standby.replicas",
	"streams.rack.aware.assignment.tags": "group.streams.rack.aware.assignment.tags",
	"streams.session.timeout.ms":         "group.streams.session.timeout.ms",
}

// groupBounds are the broker properties that bound a group config (Kafka's
// GroupConfig.validate against GroupCoordinatorConfig).
var groupBounds = map[string][2]string{
	"consumer.session.timeout.ms":    {"group.consumer.min.session.timeout.ms", "group.consumer.max.session.timeout.ms"},
	"consumer.heartbeat.interval.ms": {"group.consumer.min.heartbeat.interval.ms", "group.consumer.max.heartbeat.interval.ms"},
}

var groupDefs = func() map[string]groupDef {
	defs := make([]*def, len(groupTable))
	for i, g := range groupTable {
		defs[i] = g.def
		if g.broker != "" && brokerDefs[g.broker] == nil {
			panic("config: group config " + g.name + " names an unknown broker property " + g.broker)
		}
	}
	index(defs) // checks defaults and statuses, appends the inert notes
	m := make(map[string]groupDef, len(groupTable))
	for _, g := range groupTable {
		m[g.name] = g
	}
	return m
}()

func shareOffsetReset(v string) error {
	if v == "latest" || v == "earliest" || strings.HasPrefix(v, "by_duration:") {
		return nil
	}
	return fmt.Errorf("string must be one of: latest, earliest, by_duration:PnDTnHnMn.nS")
}

// IsGroupConfig reports whether name is a group config.
func IsGroupConfig(name string) bool { _, ok := groupDefs[name]; return ok }

// ValidateGroupConfigs checks a group's overrides: every key a group
// config, every value valid, the session timeout and heartbeat interval
// within the broker's bounds. Errors are *Error values (joined when
// several), ordered by key; their messages are Kafka's.
func (b *Broker) ValidateGroupConfigs(overrides map[string]string) error {
	keys := make([]string, 0, len(overrides))
	for k := range overrides {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		v := strings.TrimSpace(overrides[k])
		g, ok := groupDefs[k]
		if !ok {
			errs = append(errs, &Error{Key: k, Value: v, Unknown: true, Reason: "Unknown group config name: " + k})
			continue
		}
		if err := g.validate(v); err != nil {
			errs = append(errs, &Error{Key: k, Value: v, Reason: err.Error()})
			continue
		}
		if bounds, ok := groupBounds[k]; ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			lo, hi := b.Int64(bounds[0]), b.Int64(bounds[1])
			if n < lo || n > hi {
				errs = append(errs, &Error{Key: k, Value: v, Unknown: true,
					Reason: fmt.Sprintf("%s must be in the range %d to %d inclusive.", k, lo, hi)})
			}
		}
	}
	return errors.Join(errs...)
}

// InertGroupConfigs returns, sorted by name, the overrides that set an
// inert group config to a value other than its default, for the caller to
// log. overrides are assumed valid.
func InertGroupConfigs(overrides map[string]string) []Inert {
	var out []Inert
	for k, v := range overrides {
		v = strings.TrimSpace(v)
		if g, ok := groupDefs[k]; ok && g.status == inert && !g.isDefault(v) {
			out = append(out, Inert{Name: k, Value: v, Reason: g.why})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Group is a group's resolved configuration.
type Group struct {
	SessionTimeout    time.Duration // consumer.session.timeout.ms
	HeartbeatInterval time.Duration // consumer.heartbeat.interval.ms
}

// groupValue returns group config g's effective value and source: the
// group's override, else its broker property (any layer), else the default.
func (b *Broker) groupValue(g groupDef, overrides map[string]string) (string, Source) {
	if v, ok := overrides[g.name]; ok {
		return strings.TrimSpace(v), SourceGroup
	}
	if g.broker != "" {
		if v, src, ok := b.layered(g.broker); ok {
			return v, src
		}
		return brokerDefs[g.broker].dflt, SourceDefault
	}
	return g.dflt, SourceDefault
}

// ResolveGroup merges a group's overrides over the broker's values.
func (b *Broker) ResolveGroup(overrides map[string]string) Group {
	ms := func(name string) time.Duration {
		v, _ := b.groupValue(groupDefs[name], overrides)
		n, _ := strconv.ParseInt(v, 10, 64)
		return msToDuration(n)
	}
	return Group{
		SessionTimeout:    ms("consumer.session.timeout.ms"),
		HeartbeatInterval: ms("consumer.heartbeat.interval.ms"),
	}
}

// GroupEntries returns every group config's effective value for
// DescribeConfigs(GROUP), sorted by name, but for the internal ones Kafka
// does not list either; synonyms as Kafka lists them:
// the override (GROUP_CONFIG), then the broker property's sources.
func (b *Broker) GroupEntries(overrides map[string]string) []Entry {
	names := make([]string, 0, len(groupDefs))
	for n := range groupDefs {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Entry, 0, len(names))
	for _, n := range names {
		g := groupDefs[n]
		if g.internal {
			continue // accepted, never listed (Kafka's internal group configs)
		}
		v, src := b.groupValue(g, overrides)
		e := Entry{Name: n, Value: v, Source: src, Type: g.typ, Doc: g.doc}
		if src == SourceGroup {
			e.Synonyms = append(e.Synonyms, Entry{Name: n, Value: v, Source: SourceGroup, Type: g.typ})
		}
		if g.broker != "" {
			e.Synonyms = append(e.Synonyms, b.brokerSynonyms(g.broker)...)
		} else {
			dn := n
			if k, ok := groupDefaultSynonyms[n]; ok {
				dn = k
			}
			e.Synonyms = append(e.Synonyms, Entry{Name: dn, Value: g.dflt, Source: SourceDefault, Type: g.typ})
		}
		out = append(out, e)
	}
	return out
}
