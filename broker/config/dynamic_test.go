package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestValidateDynamic(t *testing.T) {
	for _, tc := range []struct {
		values map[string]string
		want   string // "" = valid; else a substring of the error
	}{
		{map[string]string{"log.retention.ms": "3600000", "message.max.bytes": "2000", "log.cleaner.threads": "2"}, ""},
		{map[string]string{"max.connections": "100", "max.connections.per.ip.overrides": "127.0.0.1:5"}, ""},
		{map[string]string{"log.retention.hours": "1"}, "Cannot update these configs dynamically: [log.retention.hours]"},
		{map[string]string{"num.partitions": "3", "log.roll.hours": "2"}, "Cannot update these configs dynamically: [log.roll.hours, num.partitions]"},
		{map[string]string{"retention.ms": "1"}, "is a topic config"},
		{map[string]string{"no.such.property": "1"}, "unknown broker property"},
		{map[string]string{"message.max.bytes": "-1"}, "at least 0"},
		{map[string]string{"log.cleanup.policy": "none"}, "allowed values"},
	} {
		err := ValidateDynamic(tc.values)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.values, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid)):
			t.Errorf("%v: error %v, want one mentioning %q", tc.values, err, tc.want)
		}
	}
}

// TestWithDynamic: per-broker dynamic values win over cluster-wide ones,
// which win over static ones, in the typed fields, the topic defaults and
// DescribeConfigs' sources and synonyms.
func TestWithDynamic(t *testing.T) {
	b := mustBroker(t, map[string]string{"message.max.bytes": "5000", "max.connections": "50"})
	d, err := b.WithDynamic(Dynamic{
		Broker:  map[string]string{"message.max.bytes": "3000"},
		Default: map[string]string{"message.max.bytes": "2000", "log.retention.ms": "7200000", "max.connections": "10", "producer.id.expiration.ms": "60000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.MessageMaxBytes != 3000 || d.MaxConnections != 10 || d.ProducerIDExpiration != time.Minute {
		t.Fatalf("typed fields: message.max.bytes %d, max.connections %d, producer.id.expiration %v", d.MessageMaxBytes, d.MaxConnections, d.ProducerIDExpiration)
	}
	if b.MessageMaxBytes != 5000 || b.MaxConnections != 50 {
		t.Fatal("WithDynamic changed its receiver")
	}
	rt := d.ResolveTopic(nil)
	if rt.MaxMessageBytes != 3000 || rt.Log.RetentionMs != 2*time.Hour {
		t.Fatalf("topic defaults: max.message.bytes %d, retention %v", rt.MaxMessageBytes, rt.Log.RetentionMs)
	}
	if rt := d.ResolveTopic(map[string]string{"retention.ms": "1000"}); rt.Log.RetentionMs != time.Second {
		t.Fatalf("a topic override still wins: %v", rt.Log.RetentionMs)
	}

	e, _ := d.Get("message.max.bytes")
	if e.Value != "3000" || e.Source != SourceDynamicBroker || e.ReadOnly {
		t.Errorf("message.max.bytes = %+v", e)
	}
	want := []syn3{{"message.max.bytes", "3000", SourceDynamicBroker}, {"message.max.bytes", "2000", SourceDynamicDefault},
		{"message.max.bytes", "5000", SourceStaticBroker}, {"message.max.bytes", "1048588", SourceDefault}}
	if got := synonymsOf(e); !reflect.DeepEqual(got, want) {
		t.Errorf("message.max.bytes synonyms = %v\nwant %v", got, want)
	}
	te, _ := findEntry(d.TopicEntries(nil), "max.message.bytes")
	if te.Value != "3000" || te.Source != SourceDynamicBroker || !reflect.DeepEqual(synonymsOf(te), want) {
		t.Errorf("topic max.message.bytes = %+v", te)
	}
	te, _ = findEntry(d.TopicEntries(nil), "retention.ms")
	if te.Value != "7200000" || te.Source != SourceDynamicDefault ||
		!reflect.DeepEqual(synonymsOf(te), []syn3{{"log.retention.ms", "7200000", SourceDynamicDefault}, {"log.retention.hours", "168", SourceDefault}}) {
		t.Errorf("topic retention.ms = %+v", te)
	}

	def := d.DefaultEntries()
	names := make([]string, len(def))
	for i, e := range def {
		names[i] = e.Name
		if e.Source != SourceDynamicDefault {
			t.Errorf("default entry %s source %v", e.Name, e.Source)
		}
	}
	if !reflect.DeepEqual(names, []string{"log.retention.ms", "max.connections", "message.max.bytes", "producer.id.expiration.ms"}) {
		t.Errorf("default entries %v", names)
	}
	if got := synonymsOf(def[2]); !reflect.DeepEqual(got, want[1:2]) {
		t.Errorf("default message.max.bytes synonyms = %v, want the dynamic default alone (as Kafka)", got)
	}

	// Replacing the layers: the previous ones are gone.
	d2, err := d.WithDynamic(Dynamic{})
	if err != nil || d2.MessageMaxBytes != 5000 || len(d2.DefaultEntries()) != 0 {
		t.Fatalf("without dynamic values: %v, message.max.bytes %d", err, d2.MessageMaxBytes)
	}
}

func TestWithDynamicChecksAndDrops(t *testing.T) {
	b := mustBroker(t, nil)
	if _, err := b.WithDynamic(Dynamic{Default: map[string]string{"max.connections.per.ip": "0"}}); err == nil || !errors.Is(err, ErrInvalid) {
		t.Fatalf("max.connections.per.ip=0 without overrides: %v, want the start-up rule's error", err)
	}
	d, err := b.WithDynamic(Dynamic{Broker: map[string]string{"num.partitions": "9", "message.max.bytes": "x", "log.cleaner.io.buffer.size": "1048576"}})
	if err != nil {
		t.Fatal(err)
	}
	if d.NumPartitions != 1 || d.MessageMaxBytes != 1048588 || len(d.Dropped()) != 2 {
		t.Fatalf("a static property and a bad value in etcd must be dropped: num.partitions %d, dropped %v", d.NumPartitions, d.Dropped())
	}
	if in := d.InertDynamic(); len(in) != 1 || in[0].Name != "log.cleaner.io.buffer.size" || in[0].Value != "1048576" {
		t.Fatalf("InertDynamic = %+v", in)
	}
}

func TestGroupConfigs(t *testing.T) {
	b := mustBroker(t, map[string]string{"group.consumer.heartbeat.interval.ms": "6000"})
	for _, tc := range []struct {
		overrides map[string]string
		want      string
	}{
		{map[string]string{"consumer.session.timeout.ms": "50000", "consumer.heartbeat.interval.ms": "10000"}, ""},
		{map[string]string{"share.delivery.count.limit": "3", "streams.num.standby.replicas": "1"}, ""},
		{map[string]string{"consumer.session.timeout.ms": "10000"}, "consumer.session.timeout.ms must be in the range 45000 to 60000 inclusive."},
		{map[string]string{"consumer.heartbeat.interval.ms": "50000"}, "consumer.heartbeat.interval.ms must be in the range 5000 to 15000 inclusive."},
		{map[string]string{"share.delivery.count.limit": "1"}, "at least 2"},
		{map[string]string{"no.such.config": "1"}, "Unknown group config name: no.such.config"},
		{map[string]string{"retention.ms": "1"}, "Unknown group config name"},
	} {
		err := b.ValidateGroupConfigs(tc.overrides)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.overrides, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: error %v, want %q", tc.overrides, err, tc.want)
		}
	}
	g := b.ResolveGroup(map[string]string{"consumer.session.timeout.ms": "50000"})
	if g.SessionTimeout != 50*time.Second || g.HeartbeatInterval != 6*time.Second {
		t.Fatalf("resolved %+v", g)
	}
	es := b.GroupEntries(map[string]string{"consumer.session.timeout.ms": "50000"})
	e, _ := findEntry(es, "consumer.session.timeout.ms")
	if e.Value != "50000" || e.Source != SourceGroup ||
		!reflect.DeepEqual(synonymsOf(e), []syn3{{"consumer.session.timeout.ms", "50000", SourceGroup}, {"group.consumer.session.timeout.ms", "45000", SourceDefault}}) {
		t.Errorf("consumer.session.timeout.ms = %+v", e)
	}
	e, _ = findEntry(es, "consumer.heartbeat.interval.ms")
	if e.Value != "6000" || e.Source != SourceStaticBroker {
		t.Errorf("consumer.heartbeat.interval.ms = %+v", e)
	}
	// Kafka 4.4 names the defaults of these after its broker properties
	// (kafka-configs --describe --entity-type groups --all).
	for _, d := range [][3]string{
		{"consumer.assignment.interval.ms", "group.consumer.assignment.interval.ms", "1000"},
		{"share.session.timeout.ms", "group.share.session.timeout.ms", "45000"},
		{"streams.assignor.name", "group.streams.assignors", "sticky"},
		{"share.auto.offset.reset", "share.auto.offset.reset", "latest"},
	} {
		e, _ := findEntry(es, d[0])
		if want := []syn3{{d[1], d[2], SourceDefault}}; !reflect.DeepEqual(synonymsOf(e), want) {
			t.Errorf("%s synonyms = %v, want %v", d[0], synonymsOf(e), want)
		}
	}
	if in := InertGroupConfigs(map[string]string{"share.delivery.count.limit": "3", "consumer.session.timeout.ms": "50000"}); len(in) != 1 || in[0].Name != "share.delivery.count.limit" {
		t.Errorf("InertGroupConfigs = %+v", in)
	}
	if len(es) != len(groupTable)-6 { // six internal ones, as in Kafka
		t.Errorf("%d group entries, want %d", len(es), len(groupTable)-6)
	}
	if _, ok := findEntry(es, "consumer.assignor.offload.enable"); ok {
		t.Error("an internal group config is listed")
	}
	if err := b.ValidateGroupConfigs(map[string]string{"consumer.assignor.offload.enable": "false"}); err != nil {
		t.Errorf("an internal group config is refused: %v", err)
	}
	for _, e := range es {
		if g := groupDefs[e.Name]; g.status == inert && !strings.Contains(e.Doc, "No effect in samsa") {
			t.Errorf("%s: doc %q does not say it has no effect", e.Name, e.Doc)
		}
	}
}

func TestGroupConsumerBoundsAtStartup(t *testing.T) {
	if _, err := NewBroker(map[string]string{"group.consumer.session.timeout.ms": "30000"}); err == nil {
		t.Fatal("group.consumer.session.timeout.ms below group.consumer.min.session.timeout.ms accepted")
	}
	if _, err := NewBroker(map[string]string{"group.consumer.session.timeout.ms": "30000", "group.consumer.min.session.timeout.ms": "10000"}); err != nil {
		t.Fatal(err)
	}
}

// TestSynonymGroups pins what Kafka 4.4 answered (kafka-configs --describe
// --all against a broker with log.retention.hours=168 in its
// server.properties and log.retention.ms, log.roll.ms set dynamically):
// a property's synonyms are its group's (ms, minutes, hours) by source,
// from the property's own first entry on.
func TestSynonymGroups(t *testing.T) {
	b := mustBroker(t, map[string]string{"log.retention.hours": "168"})
	d, err := b.WithDynamic(Dynamic{Broker: map[string]string{"log.retention.ms": "7200000", "log.roll.ms": "3600000"}})
	if err != nil {
		t.Fatal(err)
	}
	retention := []syn3{{"log.retention.ms", "7200000", SourceDynamicBroker},
		{"log.retention.hours", "168", SourceStaticBroker}, {"log.retention.hours", "168", SourceDefault}}
	roll := []syn3{{"log.roll.ms", "3600000", SourceDynamicBroker}, {"log.roll.hours", "168", SourceDefault}}
	for _, tt := range []struct {
		name string
		want []syn3
	}{
		{"log.retention.ms", retention},
		{"log.retention.minutes", nil},
		{"log.retention.hours", retention[1:]},
		{"log.roll.ms", roll},
		{"log.roll.hours", roll[1:]},
	} {
		e, _ := d.Get(tt.name)
		if got := synonymsOf(e); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s synonyms = %v\nwant %v", tt.name, got, tt.want)
		}
	}
	for _, tt := range []struct {
		name, value string
		want        []syn3
	}{{"retention.ms", "7200000", retention}, {"segment.ms", "3600000", roll}} {
		e, _ := findEntry(d.TopicEntries(nil), tt.name)
		if e.Value != tt.value || !reflect.DeepEqual(synonymsOf(e), tt.want) {
			t.Errorf("topic %s = %q, synonyms %v\nwant %q, %v", tt.name, e.Value, synonymsOf(e), tt.value, tt.want)
		}
	}
	// Without the dynamic values: no synonyms for the ms variants at all.
	e, _ := findEntry(b.TopicEntries(nil), "retention.ms")
	if e.Value != "604800000" || e.Source != SourceDefault || len(e.Synonyms) != 0 {
		t.Errorf("static only: topic retention.ms = %+v", e)
	}
}
