package config

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// implementedProperties are the properties that act in samsa as Kafka's do,
// each checked by hand against the code that reads it. Every other property
// in the tables must be inert (accepted, warned, documented as having no
// effect) or unsupported (only its default accepted): a new property is
// neither until someone decides, so adding one silently inert fails
// TestEveryPropertyIsDecided.
var implementedProperties = map[string]string{
	// Topic configs (those that are also broker properties are listed
	// once; the entry covers both).
	"cleanup.policy":                            "delete: retention; compact: keys required, storage/cleaner.go compacts",
	"delete.retention.ms":                       "storage/log_compaction.go: tombstone delete horizon",
	"min.compaction.lag.ms":                     "storage/log_compaction.go: first uncleanable segment",
	"max.compaction.lag.ms":                     "storage/log_compaction.go: forced cleaning; compacted logs roll at it",
	"min.cleanable.dirty.ratio":                 "storage/log_compaction.go: cleanable ratio",
	"file.delete.delay.ms":                      "storage: deleted segments removed after the delay",
	"flush.messages":                            "storage: fsync every n messages",
	"flush.ms":                                  "storage: fsync when data is older",
	"index.interval.bytes":                      "storage: offset index density",
	"max.message.bytes":                         "produce: MESSAGE_TOO_LARGE",
	"max.incremental.fetch.session.cache.slots": "broker/fetch_session.go: the fetch session cache's size (0: no sessions)",
	"max.decompressed.message.bytes":            "produce: INVALID_RECORD for a record inflating beyond it",
	"message.timestamp.after.max.ms":            "produce: INVALID_TIMESTAMP",
	"message.timestamp.before.max.ms":           "produce: INVALID_TIMESTAMP",
	"message.timestamp.type":                    "produce: LogAppendTime stamping",
	"min.insync.replicas":                       "produce: NOT_ENOUGH_REPLICAS with acks=all",
	"retention.bytes":                           "storage: retention",
	"retention.ms":                              "storage: retention",
	"segment.bytes":                             "storage: roll",
	"segment.index.bytes":                       "storage: index size",
	"segment.ms":                                "storage: roll",
	"internal.segment.bytes":                    "storage: roll (tests)",
	"compression.type":                          "broker/00_produce.go: recompression (protocol.Recompress)",
	"compression.gzip.level":                    "recompression level",
	"compression.lz4.level":                     "recompression level",
	"compression.zstd.level":                    "recompression level",
	"preallocate":                               "storage/segment.go: log file created at segment.bytes, cut on roll and close",
	"segment.jitter.ms":                         "storage/segment.go: random roll jitter per segment",

	// Broker properties.
	"broker.id":                                                   "registration",
	"node.id":                                                     "registration",
	"broker.rack":                                                 "registration, Metadata and DescribeCluster racks",
	"listeners":                                                   "bound listeners",
	"advertised.listeners":                                        "registration",
	"listener.security.protocol.map":                              "listener protocols (non-PLAINTEXT refused)",
	"log.dir":                                                     "data directory",
	"log.dirs":                                                    "data directory (first; more are warned)",
	"etcd.endpoints":                                              "metadata store",
	"etcd.prefix":                                                 "metadata store",
	"etcd.compaction.interval.ms":                                 "coordinator/compact.go: the controller compacts etcd's history",
	"samsa.adopt.existing.data":                                   "broker/startup.go: rebuilds a lost cluster's metadata from the data dir",
	"samsa.transactions.enable":                                   "broker/handlers.go: serves the transaction APIs (handler.txn)",
	"inter.broker.listener.name":                                  "broker/controller_endpoints.go: the endpoint replica fetchers dial",
	"security.inter.broker.protocol":                              "broker/controller_endpoints.go: names the inter-broker listener",
	"process.roles":                                               "combined mode: an embedded etcd member per broker",
	"controller.quorum.voters":                                    "combined mode: the etcd members' peer addresses",
	"controller.quorum.bootstrap.servers":                         "combined mode with one server: the embedded single-node etcd",
	"controller.listener.names":                                   "combined mode: the etcd member's peer listener",
	"broker.session.timeout.ms":                                   "coordinator: the registration lease TTL",
	"controlled.shutdown.enable":                                  "broker/controller_shutdown.go",
	"auto.leader.rebalance.enable":                                "broker/controller.go: preferred-leader rebalance",
	"leader.imbalance.check.interval.seconds":                     "broker/controller.go: preferred-leader rebalance",
	"leader.imbalance.per.broker.percentage":                      "broker/controller.go: preferred-leader rebalance",
	"replica.lag.time.max.ms":                                     "broker/replica_isr.go: ISR shrink",
	"replica.fetch.max.bytes":                                     "broker/replica_fetcher.go",
	"replica.fetch.min.bytes":                                     "broker/replica_fetcher.go",
	"replica.fetch.wait.max.ms":                                   "broker/replica_fetcher.go",
	"replica.fetch.backoff.ms":                                    "broker/replica_fetcher.go",
	"replica.fetch.response.max.bytes":                            "broker/replica_fetcher.go",
	"num.replica.fetchers":                                        "broker/replica_fetcher.go",
	"replica.selector.class":                                      "broker/01_fetch.go: KIP-392 preferred read replica",
	"unclean.leader.election.enable":                              "coordinator/controller.go: unclean elections (topic config, broker default)",
	"samsa.advertise.connected.address":                           "broker/advertise.go: each client is told the address it connected to",
	"samsa.admin.listener":                                        "admin/: the HTTP listener (metrics, health, console)",
	"samsa.request.log.slow.ms":                                   "broker/metrics.go: slow-request log line",
	"samsa.request.log.debug.sample":                              "broker/metrics.go: sampled request log at debug",
	"socket.request.max.bytes":                                    "read loop: frame size limit",
	"connections.max.idle.ms":                                     "read loop: idle connections closed",
	"fetch.max.bytes":                                             "fetch: response size cap",
	"max.connections":                                             "accept loop",
	"max.connections.per.ip":                                      "accept loop",
	"max.connections.per.ip.overrides":                            "accept loop",
	"max.partitions.per.request":                                  "CreateTopics, CreatePartitions, auto-creation",
	"num.partitions":                                              "topic creation default",
	"default.replication.factor":                                  "topic creation default",
	"auto.create.topics.enable":                                   "Metadata auto-creation",
	"delete.topic.enable":                                         "DeleteTopics",
	"log.retention.check.interval.ms":                             "storage manager",
	"log.cache.hot.bytes":                                         "storage page-cache trimmer",
	"log.cache.hot.total.bytes":                                   "storage page-cache trimmer",
	"num.recovery.threads.per.data.dir":                           "parallel log open at start-up (the lead's change)",
	"samsa.log.durable":                                           "storage/durable.go: acks wait for fsync, group commit",
	"producer.id.expiration.ms":                                   "storage: producer state expiry",
	"group.initial.rebalance.delay.ms":                            "group coordinator",
	"group.min.session.timeout.ms":                                "group coordinator",
	"group.max.session.timeout.ms":                                "group coordinator",
	"group.max.size":                                              "group coordinator",
	"offsets.topic.num.partitions":                                "group coordinator placement",
	"offsets.topic.replication.factor":                            "__consumer_offsets creation",
	"offsets.retention.minutes":                                   "group coordinator offset expiry",
	"offsets.retention.check.interval.ms":                         "group coordinator offset expiry",
	"offset.metadata.max.bytes":                                   "OffsetCommit",
	"group.consumer.session.timeout.ms":                           "KIP-848 groups",
	"group.consumer.heartbeat.interval.ms":                        "KIP-848 groups",
	"group.consumer.assignors":                                    "KIP-848 groups",
	"group.consumer.min.session.timeout.ms":                       "GROUP config validation (and group.consumer.session.timeout.ms)",
	"group.consumer.max.session.timeout.ms":                       "GROUP config validation (and group.consumer.session.timeout.ms)",
	"group.consumer.min.heartbeat.interval.ms":                    "GROUP config validation (and group.consumer.heartbeat.interval.ms)",
	"group.consumer.max.heartbeat.interval.ms":                    "GROUP config validation (and group.consumer.heartbeat.interval.ms)",
	"transaction.state.log.num.partitions":                        "__transaction_state creation",
	"transaction.state.log.replication.factor":                    "__transaction_state creation",
	"transaction.state.log.min.isr":                               "broker/config/topic.go: __transaction_state's min.insync.replicas",
	"transaction.max.timeout.ms":                                  "coordinator/txn: InitProducerId answers INVALID_TRANSACTION_TIMEOUT above it",
	"transactional.id.expiration.ms":                              "coordinator/txn: removes idle transactional ids",
	"transaction.abort.timed.out.transaction.cleanup.interval.ms": "coordinator/txn: the timed-out abort scan",
	"transaction.remove.expired.transaction.cleanup.interval.ms":  "coordinator/txn: the expired-id scan",
	// Security (broker/tls.go, sasl*.go, acl*.go, quota*.go).
	"ssl.keystore.type":                         "broker/tls.go: PEM, PKCS12, JKS key stores",
	"ssl.keystore.location":                     "broker/tls.go",
	"ssl.keystore.password":                     "broker/tls.go",
	"ssl.key.password":                          "broker/tls.go: encrypted PEM keys, JKS key entries",
	"ssl.keystore.key":                          "broker/tls.go: inline PEM key",
	"ssl.keystore.certificate.chain":            "broker/tls.go: inline PEM chain",
	"ssl.truststore.type":                       "broker/tls.go",
	"ssl.truststore.location":                   "broker/tls.go",
	"ssl.truststore.password":                   "broker/tls.go",
	"ssl.truststore.certificates":               "broker/tls.go: inline PEM CAs",
	"ssl.client.auth":                           "broker/tls.go: mTLS",
	"ssl.enabled.protocols":                     "broker/tls.go: TLS versions",
	"ssl.protocol":                              "broker/tls.go: TLSv1.2 caps the version",
	"ssl.cipher.suites":                         "broker/tls.go: TLS 1.2 suites",
	"ssl.principal.mapping.rules":               "broker/principal.go: certificate DN -> principal",
	"ssl.endpoint.identification.algorithm":     "broker/replica_conn.go: inter-broker host name check",
	"sasl.enabled.mechanisms":                   "broker/sasl.go",
	"sasl.mechanism.inter.broker.protocol":      "broker/replica_conn.go: the replica fetchers' mechanism",
	"sasl.jaas.config":                          "broker/sasl_plain.go: PLAIN users; inter-broker identity; unsecured OAUTHBEARER options",
	"sasl.server.callback.handler.class":        "broker/sasl_oauth.go: JWKS validator or unsecured tokens",
	"sasl.server.max.receive.size":              "broker/conn.go: frame limit before authentication",
	"connections.max.reauth.ms":                 "broker/sasl.go: KIP-368 session lifetime",
	"connection.failed.authentication.delay.ms": "broker/auth.go: failed authentications answered late",
	"sasl.oauthbearer.jwks.endpoint.url":        "broker/sasl_oauth.go",
	"sasl.oauthbearer.jwks.endpoint.refresh.ms": "broker/sasl_oauth.go",
	"sasl.oauthbearer.expected.audience":        "broker/sasl_oauth.go",
	"sasl.oauthbearer.expected.issuer":          "broker/sasl_oauth.go",
	"sasl.oauthbearer.sub.claim.name":           "broker/sasl_oauth.go",
	"sasl.oauthbearer.scope.claim.name":         "broker/sasl_oauth.go",
	"sasl.oauthbearer.clock.skew.seconds":       "broker/sasl_oauth.go",
	"authorizer.class.name":                     "broker/acl.go: the ACL authorizer",
	"super.users":                               "broker/acl.go",
	"allow.everyone.if.no.acl.found":            "broker/acl.go",
	"quota.window.num":                          "broker/quota.go: rate samples",
	"quota.window.size.seconds":                 "broker/quota.go: rate samples",
	// Broker defaults of implemented topic configs.
	"log.cleanup.policy":                  "cleanup.policy",
	"log.cleaner.delete.retention.ms":     "delete.retention.ms",
	"log.cleaner.min.compaction.lag.ms":   "min.compaction.lag.ms",
	"log.cleaner.max.compaction.lag.ms":   "max.compaction.lag.ms",
	"log.cleaner.min.cleanable.ratio":     "min.cleanable.dirty.ratio",
	"log.cleaner.enable":                  "storage.ManagerOptions.CleanerThreads (0 when false)",
	"log.cleaner.threads":                 "storage/cleaner.go threads",
	"log.cleaner.backoff.ms":              "storage/cleaner.go idle backoff",
	"log.cleaner.dedupe.buffer.size":      "storage/offset_map.go memory bound",
	"log.cleaner.io.buffer.load.factor":   "storage/offset_map.go load factor",
	"log.cleaner.io.max.bytes.per.second": "storage/cleaner.go throttle",
	"log.segment.delete.delay.ms":         "file.delete.delay.ms",
	"log.flush.interval.messages":         "flush.messages",
	"log.flush.interval.ms":               "flush.ms",
	"log.flush.scheduler.interval.ms":     "flush.ms (last-resort default)",
	"log.index.interval.bytes":            "index.interval.bytes",
	"message.max.bytes":                   "max.message.bytes",
	"log.message.timestamp.after.max.ms":  "message.timestamp.after.max.ms",
	"log.message.timestamp.before.max.ms": "message.timestamp.before.max.ms",
	"log.message.timestamp.type":          "message.timestamp.type",
	"log.retention.bytes":                 "retention.bytes",
	"log.retention.ms":                    "retention.ms",
	"log.retention.minutes":               "retention.ms",
	"log.retention.hours":                 "retention.ms",
	"log.segment.bytes":                   "segment.bytes",
	"log.index.size.max.bytes":            "segment.index.bytes",
	"log.roll.ms":                         "segment.ms",
	"log.preallocate":                     "preallocate",
	"log.roll.jitter.ms":                  "segment.jitter.ms",
	"log.roll.jitter.hours":               "segment.jitter.ms",
	"log.roll.hours":                      "segment.ms",
}

// otherValue returns a value of d that is valid as far as its type and
// check go, is not its default and passes ok, or "" if it finds none.
func otherValue(d *def, ok func(v string) bool) string {
	candidates := []string{"true", "false", "1", "2", "0", "3", "100", "10000", "-1", "0.7", "gzip", "lz4", "x", "0:1", "PLAINTEXT"}
	if n, err := strconv.ParseInt(d.dflt, 10, 64); err == nil {
		candidates = append([]string{strconv.FormatInt(n+1, 10), strconv.FormatInt(n-1, 10)}, candidates...)
	}
	saved := d.status
	d.status = implemented // the type and check alone
	defer func() { d.status = saved }()
	for _, v := range candidates {
		if d.validate(v) == nil && !d.isDefault(v) && (ok == nil || ok(v)) {
			return v
		}
	}
	return ""
}

func TestEveryPropertyIsDecided(t *testing.T) {
	listed := map[string]bool{}
	for _, table := range [][]*def{topicTable, brokerTable} {
		for _, d := range table {
			_, inList := implementedProperties[d.name]
			listed[d.name] = true
			switch {
			case d.status == implemented && !inList:
				t.Errorf("%s: not in implementedProperties and neither inert nor unsupported; decide what samsa does with it", d.name)
			case d.status != implemented && inList:
				t.Errorf("%s: listed as implemented but marked inert/unsupported", d.name)
			}
		}
	}
	for name := range implementedProperties {
		if !listed[name] {
			t.Errorf("implementedProperties lists %s, which is not a property", name)
		}
	}
}

// TestInertPropertiesAreWarnedAndDocumented: a broker property that has no
// effect is accepted and reported by Inert (the CLI logs it at warn); a
// topic config is accepted and reported by InertTopicConfigs; both say so
// in their doc.
func TestInertPropertiesAreWarnedAndDocumented(t *testing.T) {
	for _, d := range brokerTable {
		if d.status != inert {
			continue
		}
		if !strings.Contains(d.doc, "No effect in samsa") {
			t.Errorf("broker %s: doc %q does not say it has no effect", d.name, d.doc)
		}
		v := otherValue(d, func(v string) bool {
			_, err := NewBroker(map[string]string{d.name: v})
			return err == nil
		})
		if v == "" {
			t.Errorf("broker %s: no non-default value that starts", d.name)
			continue
		}
		b, err := NewBroker(map[string]string{d.name: v})
		if err != nil {
			t.Errorf("broker %s=%s: refused: %v", d.name, v, err)
			continue
		}
		if in := b.Inert(); len(in) != 1 || in[0].Name != d.name || in[0].Value != v || in[0].Reason == "" {
			t.Errorf("broker %s=%s: Inert() = %+v", d.name, v, in)
		}
		e, _ := b.Get(d.name)
		if !strings.Contains(e.Doc, "No effect in samsa") {
			t.Errorf("broker %s: DescribeConfigs doc %q", d.name, e.Doc)
		}
		// The default, set explicitly, changes nothing: no warning.
		if !d.noDefault {
			b, err := NewBroker(map[string]string{d.name: d.dflt})
			if err != nil || len(b.Inert()) != 0 {
				t.Errorf("broker %s at its default: err %v, Inert() %+v", d.name, err, b.Inert())
			}
		}
	}
	b, _ := NewBroker(nil)
	docs := map[string]string{}
	for _, e := range b.TopicEntries(nil) {
		docs[e.Name] = e.Doc
	}
	for _, d := range topicTable {
		if d.status != inert {
			continue
		}
		if !strings.Contains(docs[d.name], "No effect in samsa") {
			t.Errorf("topic %s: DescribeConfigs doc %q does not say it has no effect", d.name, docs[d.name])
		}
		v := otherValue(d, nil)
		if v == "" {
			t.Errorf("topic %s: no non-default value to test", d.name)
			continue
		}
		if err := ValidateTopicConfigs(map[string]string{d.name: v}); err != nil {
			t.Errorf("topic %s=%s: refused: %v", d.name, v, err)
		}
		got := InertTopicConfigs(map[string]string{d.name: v})
		if len(got) != 1 || got[0].Name != d.name || got[0].Value != v || got[0].Reason == "" {
			t.Errorf("topic %s=%s: InertTopicConfigs = %+v", d.name, v, got)
		}
		if got := InertTopicConfigs(map[string]string{d.name: d.dflt}); len(got) != 0 {
			t.Errorf("topic %s at its default: InertTopicConfigs = %+v", d.name, got)
		}
	}
}

// TestUnsupportedPropertiesAreRefused: any value but the default is refused
// with "not supported by samsa yet"; the default is accepted.
func TestUnsupportedPropertiesAreRefused(t *testing.T) {
	n := 0
	for _, table := range [][]*def{topicTable, brokerTable} {
		for _, d := range table {
			if d.status != unsupported {
				continue
			}
			n++
			v := otherValue(d, nil)
			if v == "" {
				t.Errorf("%s: no non-default value to test", d.name)
				continue
			}
			var err, errDefault error
			if table[0] == topicTable[0] {
				err = ValidateTopicConfigs(map[string]string{d.name: v})
				errDefault = ValidateTopicConfigs(map[string]string{d.name: d.dflt})
			} else {
				_, err = NewBroker(map[string]string{d.name: v})
				_, errDefault = NewBroker(map[string]string{d.name: d.dflt})
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Key != d.name || !strings.Contains(ce.Message(), "not supported by samsa yet") {
				t.Errorf("%s=%s: error %v, want it refused as not supported", d.name, v, err)
			}
			if errDefault != nil {
				t.Errorf("%s at its default %q: %v", d.name, d.dflt, errDefault)
			}
			if !strings.Contains(d.doc, "Not supported by samsa yet") {
				t.Errorf("%s: doc %q", d.name, d.doc)
			}
		}
	}
	if n == 0 {
		t.Fatal("no unsupported property: remote.storage.enable must be")
	}
	// Kafka's ACL authorizers are accepted; any other class, which would
	// authorize nothing here, is refused.
	for _, a := range []string{StandardAuthorizer, AclAuthorizer} {
		if _, err := NewBroker(map[string]string{"authorizer.class.name": a}); err != nil {
			t.Errorf("authorizer %s refused: %v", a, err)
		}
	}
	_, err := NewBroker(map[string]string{"authorizer.class.name": "com.example.MyAuthorizer"})
	if err == nil || !strings.Contains(err.Error(), "authorizer.class.name") {
		t.Fatalf("custom authorizer accepted: %v", err)
	}
}

// TestIgnoredKeysAreWarned: the Kafka-only keys and prefixes are accepted
// with a warning each.
func TestIgnoredKeysAreWarned(t *testing.T) {
	props := map[string]string{}
	for k := range ignoredKeys {
		props[k] = "x"
	}
	for _, p := range ignoredPrefixes {
		props[p+"some.setting"] = "x"
	}
	b, err := NewBroker(props)
	if err != nil {
		t.Fatal(err)
	}
	for k := range props {
		if !containsWith(b.Warnings(), "property "+k+" ", "no effect in samsa") {
			t.Errorf("%s: no warning", k)
		}
	}
}

// TestTopicDefaultsAccepted: Kafka Streams and Connect create topics listing
// configs at their defaults and read them back: every topic config at its
// default is accepted, warns about nothing and is listed.
func TestTopicDefaultsAccepted(t *testing.T) {
	all := map[string]string{}
	for _, d := range topicTable {
		if !d.noDefault {
			all[d.name] = d.dflt
		}
	}
	if err := ValidateTopicConfigs(all); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	if got := InertTopicConfigs(all); len(got) != 0 {
		t.Fatalf("defaults warned about: %+v", got)
	}
	b, _ := NewBroker(nil)
	listed := map[string]bool{}
	for _, e := range b.TopicEntries(all) {
		listed[e.Name] = true
	}
	for n := range all {
		if !listed[n] && !topicDefs[n].internal {
			t.Errorf("%s not listed by TopicEntries", n)
		}
	}
}

func containsWith(lines []string, subs ...string) bool {
	for _, l := range lines {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			return true
		}
	}
	return false
}
