package config

import (
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
)

// This file is the property table: every broker property and topic config
// samsa knows, with Kafka's name, type, default and validation. Kafka's
// sources of truth are KafkaConfig/ServerLogConfigs (broker), LogConfig and
// TopicConfig (topic), and ServerTopicConfigSynonyms (which broker property
// supplies a topic config's default).

// def describes one property.
type def struct {
	name string
	typ  Type
	// dflt is the default value as Kafka prints it; noDefault marks a
	// property whose default is null (e.g. log.retention.ms).
	dflt      string
	noDefault bool
	doc       string
	// check validates a trimmed value that already parsed as typ.
	check func(v string) error
	// readOnly: DescribeConfigs marks it read-only. For broker
	// properties it is !dynamic (set by index).
	readOnly bool
	// dynamic broker properties may be altered at run time
	// (AlterConfigs / IncrementalAlterConfigs on a BROKER resource):
	// those in Kafka's DynamicBrokerConfig.ALL_DYNAMIC_CONFIGS, all
	// cluster-wide or per broker (dynamic.go).
	dynamic bool
	// internal properties are accepted but never listed (Kafka's
	// defineInternal).
	internal bool

	// synonyms, for a topic config: the broker properties that supply its
	// default, in precedence order (ServerTopicConfigSynonyms).
	synonyms []synonym

	// status is what samsa does with the property, why the reason when it
	// is not implemented (it ends the property's doc and the warn line or
	// the error). TestEveryPropertyIsDecided holds the list of implemented
	// properties, so that none is added silently inert.
	status status
	why    string
}

// status is what samsa does with a property.
type status int8

const (
	// implemented: the property acts as Kafka's does.
	implemented status = iota
	// inert: accepted, because compose files and tools set it, but it has
	// no effect in samsa yet. A value other than the default is logged at
	// warn level (broker properties at start-up, topic configs when a
	// topic sets them), and the doc says so. For harmless tuning knobs.
	inert
	// unsupported: only the default is accepted; any other value is
	// refused ("not supported by samsa yet"). For settings that would
	// make users believe they are protected (an authorizer that
	// authorizes nothing) or that change what is stored.
	unsupported
)

// Reasons of the inert properties, shared by a topic config and its broker
// synonyms.
const (
	whyThrottle           = "samsa does not throttle replication"
	whyTiered             = "samsa has no tiered storage"
	whyCheckpoint         = "samsa-checkpoint is written when a log flushes, rolls, deletes segments and closes, not on a timer"
	whyShareGroups        = "share groups (KIP-932) are not implemented"
	whyStreamsGroups      = "streams groups (KIP-1071) are not implemented"
	whyAssignmentInterval = "samsa computes a KIP-848 group's target assignment at once, not on an interval or off the coordinator's thread"
)

// synonym is a broker property standing in for a topic config; the broker
// value times factor is the topic value (hours -> ms and so on).
type synonym struct {
	name   string
	factor int64
}

const (
	msPerMinute = int64(60 * 1000)
	msPerHour   = 60 * msPerMinute
	maxLongStr  = "9223372036854775807"
	maxIntStr   = "2147483647"
)

// Topic configs (LogConfig in Kafka 4.x). Each with a broker default names
// its synonyms; the broker properties themselves are in brokerTable.
var topicTable = []*def{
	{name: "cleanup.policy", typ: TypeList, dflt: "delete", check: listIn("compact", "delete"),
		doc:      "Retention policy for old log segments: a list of delete (drop segments past retention.ms / retention.bytes) and compact (the log cleaner keeps the latest value per key; records without a key are refused).",
		synonyms: syn("log.cleanup.policy")},
	{name: "compression.type", typ: TypeString, dflt: "producer", check: stringIn("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"),
		doc:      "Final compression of the topic's batches: producer keeps what the producer sent; any other value makes the broker recompress a batch sent with another codec (uncompressed: decompress it).",
		synonyms: syn("compression.type")},
	{name: "compression.gzip.level", typ: TypeInt, dflt: "-1", check: gzipLevel,
		doc:      "gzip level the broker recompresses with when compression.type is gzip.",
		synonyms: syn("compression.gzip.level")},
	{name: "compression.lz4.level", typ: TypeInt, dflt: "9", check: between(1, 17),
		doc:      "lz4 level the broker recompresses with when compression.type is lz4 (levels above 9 compress as 9).",
		synonyms: syn("compression.lz4.level")},
	{name: "compression.zstd.level", typ: TypeInt, dflt: "3", check: between(-131072, 22),
		doc:      "zstd level the broker recompresses with when compression.type is zstd.",
		synonyms: syn("compression.zstd.level")},
	{name: "delete.retention.ms", typ: TypeLong, dflt: "86400000", check: atLeast(0),
		doc:      "How long a tombstone (a null value) is kept in a compacted topic after the cleaning that first keeps it; also the time a consumer reading from the start has to see it.",
		synonyms: syn("log.cleaner.delete.retention.ms")},
	{name: "errors.deadletterqueue.group.enable", status: unsupported, why: whyShareGroups, typ: TypeBoolean, dflt: "false",
		doc: "Let share groups write undeliverable records to this topic as a dead-letter queue."},
	{name: "file.delete.delay.ms", typ: TypeLong, dflt: "60000", check: atLeast(0),
		doc:      "Time to wait before deleting a segment file from the file system.",
		synonyms: syn("log.segment.delete.delay.ms")},
	{name: "flush.messages", typ: TypeLong, dflt: maxLongStr, check: atLeast(1),
		doc:      "Force an fsync after this many messages; the default leaves flushing to the OS.",
		synonyms: syn("log.flush.interval.messages")},
	{name: "flush.ms", typ: TypeLong, dflt: maxLongStr, check: atLeast(0),
		doc:      "Force an fsync when data is older than this; the default leaves flushing to the OS.",
		synonyms: syn("log.flush.interval.ms", "log.flush.scheduler.interval.ms")},
	{name: "follower.replication.throttled.replicas", status: unsupported, why: whyThrottle, typ: TypeList, dflt: "",
		doc: "Replicas whose follower replication is throttled."},
	{name: "index.interval.bytes", typ: TypeInt, dflt: "4096", check: atLeast(0),
		doc:      "Bytes between offset index entries.",
		synonyms: syn("log.index.interval.bytes")},
	{name: "leader.replication.throttled.replicas", status: unsupported, why: whyThrottle, typ: TypeList, dflt: "",
		doc: "Replicas whose leader replication is throttled."},
	{name: "local.retention.bytes", status: unsupported, why: whyTiered, typ: TypeLong, dflt: "-2", check: atLeast(-2),
		doc:      "Tiered storage local retention; -2 means retention.bytes.",
		synonyms: syn("log.local.retention.bytes")},
	{name: "local.retention.ms", status: unsupported, why: whyTiered, typ: TypeLong, dflt: "-2", check: atLeast(-2),
		doc:      "Tiered storage local retention; -2 means retention.ms.",
		synonyms: syn("log.local.retention.ms")},
	{name: "max.compaction.lag.ms", typ: TypeLong, dflt: maxLongStr, check: atLeast(1),
		doc:      "Maximum time a record stays uncompacted: past it the log is cleaned whatever its dirty ratio, and its active segment rolls.",
		synonyms: syn("log.cleaner.max.compaction.lag.ms")},
	{name: "max.decompressed.message.bytes", typ: TypeInt, dflt: "2147483639", check: between(1, 2147483639),
		doc:      "The largest decompressed size of one record accepted in a compressed batch; a larger record refuses its batch with INVALID_RECORD. Unlike max.message.bytes, which bounds the compressed batch, this bounds each record once inflated (samsa applies it when validating produced batches; it does not compact, and its timestamp lookups do not apply it).",
		synonyms: syn("max.decompressed.message.bytes")},
	{name: "max.message.bytes", typ: TypeInt, dflt: "1048588", check: atLeast(0),
		doc:      "Largest record batch size allowed (after compression).",
		synonyms: syn("message.max.bytes")},
	{name: "message.timestamp.after.max.ms", typ: TypeLong, dflt: "3600000", check: atLeast(0),
		doc:      "With CreateTime, reject batches whose timestamp is more than this ahead of the broker's clock.",
		synonyms: syn("log.message.timestamp.after.max.ms")},
	{name: "message.timestamp.before.max.ms", typ: TypeLong, dflt: maxLongStr, check: atLeast(0),
		doc:      "With CreateTime, reject batches whose timestamp is more than this behind the broker's clock.",
		synonyms: syn("log.message.timestamp.before.max.ms")},
	{name: "message.timestamp.type", typ: TypeString, dflt: "CreateTime", check: stringIn("CreateTime", "LogAppendTime"),
		doc:      "Whether record timestamps are the producer's (CreateTime) or the broker's (LogAppendTime).",
		synonyms: syn("log.message.timestamp.type")},
	{name: "min.cleanable.dirty.ratio", typ: TypeDouble, dflt: "0.5", check: floatBetween(0, 1),
		doc:      "The log is cleaned once the bytes not yet cleaned are more than this share of the log.",
		synonyms: syn("log.cleaner.min.cleanable.ratio")},
	{name: "min.compaction.lag.ms", typ: TypeLong, dflt: "0", check: atLeast(0),
		doc:      "Minimum time a record stays uncompacted: segments holding newer records are not cleaned.",
		synonyms: syn("log.cleaner.min.compaction.lag.ms")},
	{name: "min.insync.replicas", typ: TypeInt, dflt: "1", check: atLeast(1),
		doc:      "Minimum in-sync replicas for an acks=all produce to succeed.",
		synonyms: syn("min.insync.replicas")},
	{name: "preallocate", typ: TypeBoolean, dflt: "false",
		doc:      "Create each segment's log file at its full segment.bytes size (cut to its data when it rolls or the log closes).",
		synonyms: syn("log.preallocate")},
	{name: "remote.storage.enable", status: unsupported, why: "tiered storage", typ: TypeBoolean, dflt: "false",
		doc: "Tiered storage."},
	{name: "retention.bytes", typ: TypeLong, dflt: "-1",
		doc:      "Maximum partition size before old segments are deleted; -1 means no limit.",
		synonyms: syn("log.retention.bytes")},
	{name: "retention.ms", typ: TypeLong, dflt: "604800000", check: atLeast(-1),
		doc: "Maximum age of a segment before it is deleted; -1 means no limit.",
		synonyms: []synonym{
			{"log.retention.ms", 1},
			{"log.retention.minutes", msPerMinute},
			{"log.retention.hours", msPerHour},
		}},
	{name: "segment.bytes", typ: TypeInt, dflt: "1073741824", check: atLeast(1024 * 1024),
		doc:      "Segment file size; a new segment is rolled past it.",
		synonyms: syn("log.segment.bytes")},
	{name: "segment.index.bytes", typ: TypeInt, dflt: "10485760", check: atLeast(4),
		doc:      "Maximum size of a segment's offset and time indexes.",
		synonyms: syn("log.index.size.max.bytes")},
	{name: "segment.jitter.ms", typ: TypeLong, dflt: "0", check: atLeast(0),
		doc: "Each segment rolls at segment.ms minus a random jitter of up to this much (at most segment.ms), so that partitions do not all roll at once.",
		synonyms: []synonym{
			{"log.roll.jitter.ms", 1},
			{"log.roll.jitter.hours", msPerHour},
		}},
	{name: "segment.ms", typ: TypeLong, dflt: "604800000", check: atLeast(1),
		doc: "Roll a new segment after this long even if it is not full.",
		synonyms: []synonym{
			{"log.roll.ms", 1},
			{"log.roll.hours", msPerHour},
		}},
	{name: "unclean.leader.election.enable", typ: TypeBoolean, dflt: "false",
		doc:      "Allow an out-of-sync replica to become leader (may lose data).",
		synonyms: syn("unclean.leader.election.enable")},

	// Kafka's internal.segment.bytes (LogConfig.defineInternal): a segment
	// size below segment.bytes' 1 MiB floor, for tests. Never listed.
	{name: "internal.segment.bytes", typ: TypeInt, noDefault: true, check: atLeast(1), internal: true,
		doc: "Testing only: segment size overriding segment.bytes, without its 1 MiB minimum."},
}

// Broker properties. The dynamic ones may be altered at run time, per
// broker or cluster-wide (dynamic.go); every other one is read-only, as
// Kafka describes them.
var brokerTable = append(baseBrokerTable, securityTable...)

// baseBrokerTable is every broker property but the security ones
// (security_defs.go).
var baseBrokerTable = []*def{
	// Identity, listeners, cluster.
	{name: "broker.id", typ: TypeInt, dflt: "1", check: atLeast(0),
		doc: "This broker's id; node.id wins if both are set (they must then be equal)."},
	{name: "node.id", typ: TypeInt, noDefault: true, check: atLeast(0),
		doc: "This broker's id (Kafka 4 name for broker.id)."},
	{name: "broker.rack", typ: TypeString, noDefault: true,
		doc: "Rack of this broker, reported in Metadata."},
	{name: "listeners", typ: TypeString, dflt: "PLAINTEXT://localhost:9092", check: listenersSyntax,
		doc: "Comma-separated NAME://host:port listeners; an empty host binds every interface."},
	{name: "advertised.listeners", typ: TypeString, noDefault: true, check: listenersSyntax,
		doc: "Listeners published to clients; defaults to listeners."},
	{name: "listener.security.protocol.map", typ: TypeString,
		dflt: "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT",
		doc:  "NAME:PROTOCOL pairs mapping listener names to security protocols (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)."},
	{name: "inter.broker.listener.name", typ: TypeString, noDefault: true,
		doc: "Listener other brokers (replica fetchers) use to reach this one; defaults to the listener named by security.inter.broker.protocol (PLAINTEXT) if advertised, else the first advertised listener."},
	{name: "security.inter.broker.protocol", typ: TypeString, dflt: "PLAINTEXT", check: stringIn("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
		doc: "Security protocol between brokers; the listener of that name is the inter-broker one. Mutually exclusive with inter.broker.listener.name."},
	{name: "process.roles", typ: TypeList, noDefault: true, check: listIn("broker", "controller"),
		doc: "broker (the default), or broker,controller: combined mode, each broker runs a member of the metadata quorum (an embedded etcd member per controller.quorum.voters). samsa does not run dedicated controller nodes."},
	{name: "controller.quorum.voters", typ: TypeList, dflt: "", check: votersSyntax,
		doc: "Combined mode: id@host:port of every voter (this node's included); each runs an etcd member with that peer address. One voter (this node) is the embedded single-node etcd."},
	{name: "controller.quorum.bootstrap.servers", typ: TypeList, dflt: "",
		doc: "Combined mode with one server (Kafka's single-node server.properties): the embedded single-node etcd. Several servers (a KIP-853 dynamic quorum) are refused: list them in controller.quorum.voters."},
	{name: "controller.listener.names", typ: TypeList, noDefault: true,
		doc: "Listeners of the metadata quorum: in combined mode the first is the embedded etcd member's peer address; otherwise they are not served."},
	{name: "broker.session.timeout.ms", typ: TypeInt, dflt: "9000", check: atLeast(2000),
		doc: "Lease TTL of the broker's registration (rounded up to whole seconds): a broker unheard of for this long is dead and loses its leaderships; a broker cut off from etcd stops leading before it runs out."},
	{name: "controlled.shutdown.enable", typ: TypeBoolean, dflt: "true",
		doc: "On shutdown, first have the controller move this broker's leaderships away (and take it out of the ISRs), then stop."},
	{name: "auto.leader.rebalance.enable", typ: TypeBoolean, dflt: "true",
		doc: "The controller moves leadership back to each partition's preferred replica (the first assigned) when a broker's share of partitions it prefers but does not lead exceeds leader.imbalance.per.broker.percentage."},
	{name: "leader.imbalance.check.interval.seconds", typ: TypeLong, dflt: "300", check: atLeast(1),
		doc: "How often the controller checks the leader imbalance."},
	{name: "leader.imbalance.per.broker.percentage", typ: TypeInt, dflt: "10", check: atLeast(0),
		doc: "Allowed share (percent) of a broker's preferred partitions led by another broker before a rebalance."},
	{name: "log.dir", typ: TypeString, dflt: "./samsa-data",
		doc: "Data directory, used when log.dirs is not set."},
	{name: "log.dirs", typ: TypeList, noDefault: true,
		doc: "Log directories (comma-separated). Each holds whole partitions and its own meta.properties (same cluster.id and node.id, its own directory.id); a new partition goes to the directory holding the fewest; one that fails goes offline alone. The first also holds the embedded etcd."},
	{name: "etcd.endpoints", typ: TypeList, dflt: "",
		doc: "etcd endpoints (host:port,...); empty runs an embedded etcd inside the data directory."},
	{name: "etcd.prefix", typ: TypeString, dflt: "/samsa/", check: nonEmpty,
		doc: "Key prefix for samsa's state in etcd."},
	{name: "samsa.adopt.existing.data", typ: TypeBoolean, dflt: "false",
		doc: "samsa: when etcd holds no cluster under etcd.prefix but the data directory holds partition logs (etcd was wiped, or another etcd or prefix was given), adopt the data: create the cluster (with the cluster.id of meta.properties, if any) and register every topic found from its partition.metadata, with its topic id, partitions and this broker as the only replica. Topic configs are not recovered. Without it such a start is refused. No effect when etcd already holds the cluster."},
	{name: "samsa.transactions.enable", typ: TypeBoolean, dflt: "true",
		doc: "samsa: serve and advertise the transaction APIs (InitProducerId with a transactional.id, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, WriteTxnMarkers, TxnOffsetCommit, DescribeTransactions, ListTransactions) and accept transactional batches, as Kafka does (the default). false: those APIs are not listed in ApiVersions, a transactional.id is refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED and transactional batches with INVALID_RECORD."},
	{name: "etcd.compaction.interval.ms", typ: TypeLong, dflt: "300000", check: between(0, math.MaxInt64/1_000_000), // ms that fit a time.Duration
		doc: "samsa: every this many ms the controller compacts etcd's history (the whole keyspace, an external etcd's too) to the revision it saw one interval earlier, so committed offsets do not grow etcd without bound. 0 turns it off (for an external etcd that compacts itself); the embedded etcd then still drops history older than an hour."},

	{name: "samsa.advertise.connected.address", typ: TypeBoolean, dflt: "false",
		doc: "samsa: answer Metadata, FindCoordinator, DescribeCluster and the new-leader hints of Produce and Fetch with, for this broker, the address the client's connection reached it on (the connection's local address) instead of its advertised listener: a broker in a container or behind NAT that keeps the port is then reachable at whatever address the client found it (see README, Testcontainers)."},
	{name: "samsa.admin.listener", typ: TypeString, dflt: "localhost:9644", check: adminListenerSyntax,
		doc: "samsa: host:port of the admin HTTP listener (/metrics, /healthz, /readyz, the web console); empty turns it off. An empty host binds every interface."},

	// Requests and connections.
	{name: "samsa.request.log.slow.ms", typ: TypeLong, dflt: "1000", check: between(0, math.MaxInt64/1_000_000),
		doc: "samsa: a request whose handler takes at least this many ms is logged at warn (\"slow request\"); 0 turns it off."},
	{name: "samsa.request.log.debug.sample", typ: TypeInt, dflt: "10", check: atLeast(1),
		doc: "samsa: at --log-level debug, one request in this many is logged (1: every request)."},
	{name: "socket.request.max.bytes", typ: TypeInt, dflt: "104857600", check: atLeast(1),
		doc: "Largest request frame accepted."},
	{name: "connections.max.idle.ms", typ: TypeLong, dflt: "600000",
		doc: "Close a connection that has neither sent a byte nor had a response written for this long; negative: never."},
	{name: "fetch.max.bytes", typ: TypeInt, dflt: "57671680", check: atLeast(1024),
		doc: "Maximum bytes returned for one Fetch request: a request's MaxBytes above it is lowered to it (the first batch is still returned whole)."},
	{name: "max.incremental.fetch.session.cache.slots", typ: TypeInt, dflt: "1000", check: atLeast(0),
		doc: "Incremental fetch sessions (KIP-227) the broker keeps, consumers' and followers' together; when all are taken a new one evicts a stale or smaller one, or is not made (the client goes on with full fetches). 0: no sessions."},
	{name: "max.connections", dynamic: true, typ: TypeInt, dflt: maxIntStr, check: atLeast(0),
		doc: "Maximum client connections to this broker; connections beyond it are closed as they are accepted."},
	{name: "max.connections.per.ip", dynamic: true, typ: TypeInt, dflt: maxIntStr, check: atLeast(0),
		doc: "Maximum connections from one IP address; connections beyond it are closed as they are accepted. 0 is allowed only with max.connections.per.ip.overrides."},
	{name: "max.connections.per.ip.overrides", dynamic: true, typ: TypeString, dflt: "", check: connectionOverridesSyntax,
		doc: "Per-address exceptions to max.connections.per.ip: host-or-ip:count,... (a host name is resolved once at start-up)."},
	{name: "max.partitions.per.request", typ: TypeInt, dflt: "10000", check: atLeast(1),
		doc: "samsa: most partitions one CreateTopics or CreatePartitions request may create, summed over its topics (validate-only too); a request above it gets INVALID_PARTITIONS. Kafka's controller refuses above the same 10000."},

	// Topics.
	{name: "num.partitions", typ: TypeInt, dflt: "1", check: atLeast(1),
		doc: "Partitions of an auto-created topic (and of CreateTopics without a count)."},
	{name: "default.replication.factor", typ: TypeInt, dflt: "1", check: between(1, math.MaxInt16),
		doc: "Replication factor of an auto-created topic (and of CreateTopics without one)."},
	{name: "auto.create.topics.enable", typ: TypeBoolean, dflt: "true",
		doc: "Create a topic on first Metadata or Produce for it."},
	{name: "delete.topic.enable", typ: TypeBoolean, dflt: "true",
		doc: "Allow DeleteTopics."},

	// Log housekeeping.
	{name: "log.retention.check.interval.ms", typ: TypeLong, dflt: "300000", check: atLeast(1),
		doc: "How often retention is checked."},
	{name: "log.cache.hot.bytes", typ: TypeLong, dflt: "67108864", check: atLeast(0),
		doc: "samsa: bytes at the end of each partition log kept in the page cache; older data is written back early and dropped from the cache, so writes reuse pages instead of growing the cache. 0 leaves the page cache to the kernel, as Kafka does."},
	{name: "log.cache.hot.total.bytes", typ: TypeLong, dflt: "268435456", check: atLeast(0),
		doc: "samsa: bound on the page cache of all partition logs together (with log.cache.hot.bytes above 0): data stays cached only while less than this has been written to the broker's logs since, so idle partitions give their pages to the busy ones. 0: each partition keeps its own log.cache.hot.bytes."},
	{name: "log.cleaner.enable", typ: TypeBoolean, dflt: "true",
		doc: "Run the log cleaner, which compacts topics with cleanup.policy=compact; without it they keep everything."},
	{name: "log.cleaner.threads", dynamic: true, typ: TypeInt, dflt: "1", check: atLeast(0),
		doc: "Log cleaner threads (0: none, as log.cleaner.enable=false)."},
	{name: "log.cleaner.backoff.ms", dynamic: true, typ: TypeLong, dflt: "15000", check: atLeast(0),
		doc: "How long an idle cleaner thread sleeps before it looks for a log to clean again."},
	{name: "log.cleaner.dedupe.buffer.size", dynamic: true, typ: TypeLong, dflt: "134217728", check: atLeast(0),
		doc: "Memory of the cleaners' key maps, all threads together (24 bytes a key); a cleaning whose dirty keys do not fit cleans what fits and leaves the rest for the next."},
	{name: "log.cleaner.io.buffer.load.factor", dynamic: true, typ: TypeDouble, dflt: "0.9", check: floatBetween(0.01, 1),
		doc: "How full a cleaner's key map may get (of log.cleaner.dedupe.buffer.size)."},
	{name: "log.cleaner.io.buffer.size", dynamic: true, status: inert, why: "the cleaner reads and writes through buffers of its own (1 MiB)", typ: TypeInt, dflt: "524288", check: atLeast(0),
		doc: "I/O buffer memory of the cleaner threads."},
	{name: "log.cleaner.io.max.bytes.per.second", dynamic: true, typ: TypeDouble, dflt: "1.7976931348623157E308",
		doc: "The cleaners' read and write I/O together is throttled to this many bytes per second on average."},
	{name: "log.flush.offset.checkpoint.interval.ms", status: inert, why: whyCheckpoint, typ: TypeInt, dflt: "60000", check: atLeast(0),
		doc: "How often the recovery point is checkpointed."},
	{name: "log.flush.start.offset.checkpoint.interval.ms", status: inert, why: whyCheckpoint, typ: TypeInt, dflt: "60000", check: atLeast(0),
		doc: "How often the log start offset is checkpointed."},
	{name: "samsa.log.durable", typ: TypeBoolean, dflt: "false",
		doc: "samsa: durable mode. Every produce is answered only once its records are fsynced (and a partition's high watermark, what consumers and acks=all see, never passes what the leader has fsynced; followers fsync each fetch before they report it). The appends of all producers to a partition share fsyncs (group commit), so it costs far less than flush.messages=1, which fsyncs each batch on its own."},
	{name: "num.recovery.threads.per.data.dir", dynamic: true, typ: TypeInt, dflt: "2", check: atLeast(1),
		doc: "Threads used to recover logs at start-up."},
	{name: "producer.id.expiration.ms", dynamic: true, typ: TypeInt, dflt: "86400000", check: atLeast(1),
		doc: "Forget an idle producer's state after this long."},

	// Replication (broker/replica*.go).
	{name: "replica.lag.time.max.ms", typ: TypeLong, dflt: "30000", check: atLeast(1),
		doc: "A follower that has not caught up for this long leaves the ISR (checked every half of it)."},
	{name: "replica.fetch.max.bytes", typ: TypeInt, dflt: "1048576", check: atLeast(0),
		doc: "Bytes a follower fetches per partition (the first batch comes whole even when larger)."},
	{name: "replica.fetch.min.bytes", typ: TypeInt, dflt: "1",
		doc: "Minimum bytes a follower's fetch waits for."},
	{name: "replica.fetch.wait.max.ms", typ: TypeInt, dflt: "500", check: atLeast(0),
		doc: "Maximum wait of a follower's fetch."},
	{name: "replica.fetch.response.max.bytes", typ: TypeInt, dflt: "10485760", check: atLeast(0),
		doc: "Maximum bytes of a follower's fetch response."},
	{name: "replica.fetch.backoff.ms", typ: TypeInt, dflt: "1000", check: atLeast(0),
		doc: "How long a follower waits after a failed fetch (connection or partition error) before the next."},
	{name: "num.replica.fetchers", typ: TypeInt, dflt: "1", check: atLeast(1),
		doc: "Fetcher goroutines (and connections) per source broker; partitions are spread over them."},
	{name: "replica.selector.class", typ: TypeString, noDefault: true, check: replicaSelector,
		doc: "With org.apache.kafka.common.replica.RackAwareReplicaSelector, a consumer that sends its client.rack is told to fetch from an in-sync replica in its rack (KIP-392). Unset (or LeaderSelector): consumers fetch from the leader."},

	// Groups and offsets.
	{name: "group.initial.rebalance.delay.ms", typ: TypeInt, dflt: "3000", check: atLeast(0),
		doc: "Wait this long for more members before the first rebalance of an empty classic group, and again while members keep arriving (up to the rebalance timeout), so that consumers starting together share a backlog. Kafka's default; test setups set 0."},
	{name: "group.min.session.timeout.ms", typ: TypeInt, dflt: "6000",
		doc: "Smallest session timeout a member may ask for."},
	{name: "group.max.session.timeout.ms", typ: TypeInt, dflt: "1800000",
		doc: "Largest session timeout a member may ask for."},
	{name: "group.max.size", typ: TypeInt, dflt: maxIntStr, check: atLeast(1),
		doc: "Maximum members in one group."},
	{name: "offsets.topic.num.partitions", typ: TypeInt, dflt: "50", check: atLeast(1),
		doc: "Partitions of __consumer_offsets (fixes group coordinator placement)."},
	{name: "offsets.topic.replication.factor", typ: TypeShort, dflt: "3", check: atLeast(1),
		doc: "Replication factor of __consumer_offsets. Created with at most as many replicas as brokers are up (so one broker works alone), raised by the controller as more come (the topic holds no logs: nothing is copied)."},
	{name: "offsets.retention.minutes", typ: TypeInt, dflt: "10080", check: atLeast(1),
		doc: "Committed offsets of an empty group expire after this long."},
	{name: "offsets.retention.check.interval.ms", typ: TypeLong, dflt: "600000", check: atLeast(1),
		doc: "How often expired offsets are removed."},
	{name: "offset.metadata.max.bytes", typ: TypeInt, dflt: "4096", check: atLeast(0),
		doc: "Largest metadata string an offset commit may carry."},
	{name: "group.consumer.session.timeout.ms", typ: TypeInt, dflt: "45000", check: atLeast(1),
		doc: "Session timeout of KIP-848 consumer group members."},
	{name: "group.consumer.heartbeat.interval.ms", typ: TypeInt, dflt: "5000", check: atLeast(1),
		doc: "Heartbeat interval the coordinator gives KIP-848 consumer group members."},
	{name: "group.consumer.min.session.timeout.ms", typ: TypeInt, dflt: "45000", check: atLeast(1),
		doc: "Smallest consumer.session.timeout.ms a KIP-848 group may be given (a GROUP config)."},
	{name: "group.consumer.max.session.timeout.ms", typ: TypeInt, dflt: "60000", check: atLeast(1),
		doc: "Largest consumer.session.timeout.ms a KIP-848 group may be given (a GROUP config)."},
	{name: "group.consumer.min.heartbeat.interval.ms", typ: TypeInt, dflt: "5000", check: atLeast(1),
		doc: "Smallest consumer.heartbeat.interval.ms a KIP-848 group may be given (a GROUP config)."},
	{name: "group.consumer.max.heartbeat.interval.ms", typ: TypeInt, dflt: "15000", check: atLeast(1),
		doc: "Largest consumer.heartbeat.interval.ms a KIP-848 group may be given (a GROUP config)."},
	{name: "group.consumer.assignors", typ: TypeList, dflt: "uniform,range",
		doc: "Server-side assignors of KIP-848 consumer groups (uniform, range); the first is the default."},

	// Transactions.
	{name: "transaction.state.log.num.partitions", typ: TypeInt, dflt: "50", check: atLeast(1),
		doc: "Partitions of __transaction_state (fixes transaction coordinator placement)."},
	{name: "transaction.state.log.replication.factor", typ: TypeShort, dflt: "3", check: atLeast(1),
		doc: "Replication factor of __transaction_state; like offsets.topic.replication.factor, capped by the brokers up at its creation and raised later."},
	{name: "transaction.state.log.min.isr", typ: TypeInt, dflt: "1", check: atLeast(1),
		doc: "min.insync.replicas of __transaction_state."},
	{name: "transaction.max.timeout.ms", typ: TypeInt, dflt: "900000", check: atLeast(1),
		doc: "Largest transaction timeout a producer may ask for."},
	{name: "transactional.id.expiration.ms", typ: TypeInt, dflt: "604800000", check: atLeast(1),
		doc: "Forget an idle transactional id after this long."},
	{name: "transaction.abort.timed.out.transaction.cleanup.interval.ms", typ: TypeInt, dflt: "10000", check: atLeast(1),
		doc: "How often the transaction coordinator aborts transactions that ran past their timeout."},
	{name: "transaction.remove.expired.transaction.cleanup.interval.ms", typ: TypeInt, dflt: "3600000", check: atLeast(1),
		doc: "How often the transaction coordinator removes transactional ids past transactional.id.expiration.ms."},

	// Broker defaults of topic configs (ServerTopicConfigSynonyms).
	{name: "log.cleanup.policy", dynamic: true, typ: TypeList, dflt: "delete", check: listIn("compact", "delete"),
		doc: "Default cleanup.policy."},
	{name: "compression.type", dynamic: true, typ: TypeString, dflt: "producer", check: stringIn("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"),
		doc: "Default compression.type."},
	{name: "compression.gzip.level", dynamic: true, typ: TypeInt, dflt: "-1", check: gzipLevel,
		doc: "Default compression.gzip.level."},
	{name: "compression.lz4.level", dynamic: true, typ: TypeInt, dflt: "9", check: between(1, 17),
		doc: "Default compression.lz4.level."},
	{name: "compression.zstd.level", dynamic: true, typ: TypeInt, dflt: "3", check: between(-131072, 22),
		doc: "Default compression.zstd.level."},
	{name: "log.cleaner.delete.retention.ms", dynamic: true, typ: TypeLong, dflt: "86400000", check: atLeast(0),
		doc: "Default delete.retention.ms."},
	{name: "log.segment.delete.delay.ms", dynamic: true, typ: TypeLong, dflt: "60000", check: atLeast(0),
		doc: "Default file.delete.delay.ms."},
	{name: "log.flush.interval.messages", dynamic: true, typ: TypeLong, dflt: maxLongStr, check: atLeast(1),
		doc: "Default flush.messages."},
	{name: "log.flush.interval.ms", dynamic: true, typ: TypeLong, noDefault: true, check: atLeast(0),
		doc: "Default flush.ms; when unset, log.flush.scheduler.interval.ms."},
	{name: "log.flush.scheduler.interval.ms", typ: TypeLong, dflt: maxLongStr, check: atLeast(0),
		doc: "How often logs are checked for a flush; also flush.ms's last-resort default."},
	{name: "log.index.interval.bytes", dynamic: true, typ: TypeInt, dflt: "4096", check: atLeast(0),
		doc: "Default index.interval.bytes."},
	{name: "log.local.retention.bytes", dynamic: true, status: inert, why: whyTiered, typ: TypeLong, dflt: "-2", check: atLeast(-2),
		doc: "Default local.retention.bytes."},
	{name: "log.local.retention.ms", dynamic: true, status: inert, why: whyTiered, typ: TypeLong, dflt: "-2", check: atLeast(-2),
		doc: "Default local.retention.ms."},
	{name: "log.cleaner.max.compaction.lag.ms", dynamic: true, typ: TypeLong, dflt: maxLongStr, check: atLeast(1),
		doc: "Default max.compaction.lag.ms."},
	{name: "max.decompressed.message.bytes", dynamic: true, typ: TypeInt, dflt: "2147483639", check: between(1, 2147483639),
		doc: "Default max.decompressed.message.bytes."},
	{name: "message.max.bytes", dynamic: true, typ: TypeInt, dflt: "1048588", check: atLeast(0),
		doc: "Default max.message.bytes: the largest record batch accepted."},
	{name: "log.message.timestamp.after.max.ms", dynamic: true, typ: TypeLong, dflt: "3600000", check: atLeast(0),
		doc: "Default message.timestamp.after.max.ms."},
	{name: "log.message.timestamp.before.max.ms", dynamic: true, typ: TypeLong, dflt: maxLongStr, check: atLeast(0),
		doc: "Default message.timestamp.before.max.ms."},
	{name: "log.message.timestamp.type", dynamic: true, typ: TypeString, dflt: "CreateTime", check: stringIn("CreateTime", "LogAppendTime"),
		doc: "Default message.timestamp.type."},
	{name: "log.cleaner.min.cleanable.ratio", dynamic: true, typ: TypeDouble, dflt: "0.5", check: floatBetween(0, 1),
		doc: "Default min.cleanable.dirty.ratio."},
	{name: "log.cleaner.min.compaction.lag.ms", dynamic: true, typ: TypeLong, dflt: "0", check: atLeast(0),
		doc: "Default min.compaction.lag.ms."},
	{name: "min.insync.replicas", dynamic: true, typ: TypeInt, dflt: "1", check: atLeast(1),
		doc: "Default min.insync.replicas."},
	{name: "log.preallocate", dynamic: true, typ: TypeBoolean, dflt: "false",
		doc: "Default preallocate."},
	{name: "log.retention.bytes", dynamic: true, typ: TypeLong, dflt: "-1",
		doc: "Default retention.bytes."},
	{name: "log.retention.ms", dynamic: true, typ: TypeLong, noDefault: true,
		doc: "Default retention.ms; wins over log.retention.minutes and log.retention.hours."},
	{name: "log.retention.minutes", typ: TypeInt, noDefault: true,
		doc: "Default retention.ms in minutes; wins over log.retention.hours."},
	{name: "log.retention.hours", typ: TypeInt, dflt: "168",
		doc: "Default retention.ms in hours."},
	{name: "log.segment.bytes", dynamic: true, typ: TypeInt, dflt: "1073741824", check: atLeast(1024 * 1024),
		doc: "Default segment.bytes."},
	{name: "log.index.size.max.bytes", dynamic: true, typ: TypeInt, dflt: "10485760", check: atLeast(4),
		doc: "Default segment.index.bytes."},
	{name: "log.roll.jitter.ms", dynamic: true, typ: TypeLong, noDefault: true, check: atLeast(0),
		doc: "Default segment.jitter.ms; wins over log.roll.jitter.hours."},
	{name: "log.roll.jitter.hours", typ: TypeInt, dflt: "0", check: atLeast(0),
		doc: "Default segment.jitter.ms in hours."},
	{name: "log.roll.ms", dynamic: true, typ: TypeLong, noDefault: true, check: atLeast(1),
		doc: "Default segment.ms; wins over log.roll.hours."},
	{name: "log.roll.hours", typ: TypeInt, dflt: "168", check: atLeast(1),
		doc: "Default segment.ms in hours."},
	{name: "unclean.leader.election.enable", dynamic: true, typ: TypeBoolean, dflt: "false",
		doc: "Default unclean.leader.election.enable."},
}

// ignoredKeys are Kafka properties that real compose files and
// server.properties set but that mean nothing to samsa (KRaft/ZooKeeper,
// thread pools, socket buffers). They are accepted so those files work, and
// reported by Broker.IgnoredKeys.
var ignoredKeys = map[string]bool{
	"zookeeper.connect":                                true,
	"zookeeper.connection.timeout.ms":                  true,
	"zookeeper.session.timeout.ms":                     true,
	"num.network.threads":                              true,
	"num.io.threads":                                   true,
	"background.threads":                               true,
	"queued.max.requests":                              true,
	"socket.send.buffer.bytes":                         true,
	"socket.receive.buffer.bytes":                      true,
	"metric.reporters":                                 true,
	"kafka.metrics.reporters":                          true,
	"metadata.log.dir":                                 true,
	"share.coordinator.state.topic.replication.factor": true,
	"share.coordinator.state.topic.min.isr":            true,
	"group.coordinator.rebalance.protocols":            true,
	"log.message.format.version":                       true,
	"inter.broker.protocol.version":                    true,
	"unstable.api.versions.enable":                     true,
}

// ignoredPrefixes are namespaces accepted wholesale for the same reason
// (confluent.* from the Confluent images, KRaft internals). ssl.*, sasl.*
// and listener.name.* are real properties (security_defs.go).
var ignoredPrefixes = []string{
	"confluent.", "controller.", "metadata.", "zookeeper.", "share.",
	"remote.log.", "kraft.",
}

func isIgnored(name string) bool {
	if ignoredKeys[name] {
		return true
	}
	for _, p := range ignoredPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

var (
	topicDefs  = index(topicTable)
	brokerDefs = index(readOnlyUnlessDynamic(brokerTable))
	_          = checkSynonyms()
)

func index(table []*def) map[string]*def {
	m := make(map[string]*def, len(table))
	for _, d := range table {
		if m[d.name] != nil {
			panic("config: duplicate property " + d.name)
		}
		if !d.noDefault {
			if err := d.validate(d.dflt); err != nil {
				panic(fmt.Sprintf("config: bad default for %s: %v", d.name, err))
			}
		}
		if (d.status == implemented) != (d.why == "") {
			panic("config: " + d.name + ": a reason goes with an inert or unsupported status, and only there")
		}
		switch d.status {
		case inert:
			d.doc += " No effect in samsa: " + d.why + "."
		case unsupported:
			d.doc += " Not supported by samsa yet (" + d.why + "): only " + d.defaultForHumans() + " is accepted."
		}
		m[d.name] = d
	}
	return m
}

// readOnlyUnlessDynamic marks every broker property Kafka cannot alter at
// run time read-only.
func readOnlyUnlessDynamic(table []*def) []*def {
	for _, d := range table {
		d.readOnly = !d.dynamic
	}
	return table
}

// checkSynonyms panics when a topic config names a broker synonym that is
// not a broker property (a table bug).
func checkSynonyms() bool {
	for _, t := range topicTable {
		for _, s := range t.synonyms {
			if brokerDefs[s.name] == nil {
				panic("config: synonym " + s.name + " of " + t.name + " is not a broker property")
			}
		}
	}
	return true
}

func syn(names ...string) []synonym {
	out := make([]synonym, len(names))
	for i, n := range names {
		out[i] = synonym{n, 1}
	}
	return out
}

// sortedNames returns the listed (non-internal) names of a table, sorted.
func sortedNames(m map[string]*def) []string {
	out := make([]string, 0, len(m))
	for n, d := range m {
		if !d.internal {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// validate checks that v (already trimmed) parses as d's type and passes its
// check. The returned error is only the reason; callers wrap it.
func (d *def) validate(v string) error {
	switch d.typ {
	case TypeBoolean:
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return fmt.Errorf("Expected value to be either true or false")
		}
	case TypeShort, TypeInt, TypeLong:
		bits := map[Type]int{TypeShort: 16, TypeInt: 32, TypeLong: 64}[d.typ]
		if _, err := strconv.ParseInt(v, 10, bits); err != nil {
			return fmt.Errorf("Not a number of type %s", typeName(d.typ))
		}
	case TypeDouble:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) {
			return fmt.Errorf("Not a number of type DOUBLE")
		}
	}
	if d.check != nil {
		if err := d.check(v); err != nil {
			return err
		}
	}
	if d.status == unsupported && !d.isDefault(v) {
		return fmt.Errorf("not supported by samsa yet (%s); only %s is accepted", d.why, d.defaultForHumans())
	}
	return nil
}

// isDefault reports whether v (valid, trimmed) means the same as d's
// default: numbers compare by value, booleans ignore case, lists compare
// their trimmed elements. A property without a default has no default
// value to equal.
func (d *def) isDefault(v string) bool {
	if d.noDefault {
		return false
	}
	switch d.typ {
	case TypeBoolean:
		return strings.EqualFold(v, d.dflt)
	case TypeShort, TypeInt, TypeLong:
		a, err1 := strconv.ParseInt(v, 10, 64)
		b, err2 := strconv.ParseInt(d.dflt, 10, 64)
		return err1 == nil && err2 == nil && a == b
	case TypeDouble:
		a, err1 := strconv.ParseFloat(v, 64)
		b, err2 := strconv.ParseFloat(d.dflt, 64)
		return err1 == nil && err2 == nil && a == b
	case TypeList:
		return strings.Join(splitList(v), ",") == strings.Join(splitList(d.dflt), ",")
	}
	return v == d.dflt
}

// defaultForHumans names d's default in a message.
func (d *def) defaultForHumans() string {
	if d.dflt == "" {
		return "an empty value"
	}
	return d.dflt
}

func typeName(t Type) string {
	switch t {
	case TypeBoolean:
		return "BOOLEAN"
	case TypeString:
		return "STRING"
	case TypeInt:
		return "INT"
	case TypeShort:
		return "SHORT"
	case TypeLong:
		return "LONG"
	case TypeDouble:
		return "DOUBLE"
	case TypeList:
		return "LIST"
	case TypeClass:
		return "CLASS"
	case TypePassword:
		return "PASSWORD"
	}
	return "UNKNOWN"
}

// Validators. Each runs on a value that already parsed as the def's type.

func atLeast(min int64) func(string) error {
	return func(v string) error {
		n, _ := strconv.ParseInt(v, 10, 64)
		if n < min {
			return fmt.Errorf("value must be at least %d", min)
		}
		return nil
	}
}

func between(min, max int64) func(string) error {
	return func(v string) error {
		n, _ := strconv.ParseInt(v, 10, 64)
		if n < min || n > max {
			return fmt.Errorf("value must be in [%d,...,%d]", min, max)
		}
		return nil
	}
}

func floatBetween(min, max float64) func(string) error {
	return func(v string) error {
		f, _ := strconv.ParseFloat(v, 64)
		if f < min || f > max {
			return fmt.Errorf("value must be in [%g,...,%g]", min, max)
		}
		return nil
	}
}

// stringIn is Kafka's ValidString.in: exact, case-sensitive.
// Kafka's replica selectors (KIP-392); samsa implements these two.
const (
	RackAwareReplicaSelector = "org.apache.kafka.common.replica.RackAwareReplicaSelector"
	LeaderReplicaSelector    = "org.apache.kafka.common.replica.LeaderSelector"
)

func replicaSelector(v string) error {
	if v == "" || v == RackAwareReplicaSelector || v == LeaderReplicaSelector {
		return nil
	}
	return fmt.Errorf("samsa implements %s and %s only", RackAwareReplicaSelector, LeaderReplicaSelector)
}

func stringIn(allowed ...string) func(string) error {
	return func(v string) error {
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("string must be one of: %s", strings.Join(allowed, ", "))
	}
}

// listIn is Kafka's ValidList.in: every element exact and allowed; samsa
// also refuses an empty list.
func listIn(allowed ...string) func(string) error {
	one := stringIn(allowed...)
	return func(v string) error {
		items := splitList(v)
		if len(items) == 0 {
			return fmt.Errorf("list must not be empty; allowed values: %s", strings.Join(allowed, ", "))
		}
		for _, it := range items {
			if one(it) != nil {
				return fmt.Errorf("invalid value %q in list; allowed values: %s", it, strings.Join(allowed, ", "))
			}
		}
		return nil
	}
}

func gzipLevel(v string) error {
	n, _ := strconv.ParseInt(v, 10, 64)
	if n == -1 || (n >= 1 && n <= 9) {
		return nil
	}
	return fmt.Errorf("value must be -1 or in [1,...,9]")
}

func votersSyntax(v string) error {
	_, err := ParseVoters(v)
	return err
}

func listenersSyntax(v string) error {
	_, err := ParseListeners(v)
	return err
}

func connectionOverridesSyntax(v string) error {
	_, err := ParseConnectionOverrides(v)
	return err
}

// adminListenerSyntax accepts "" (off) or host:port.
func adminListenerSyntax(v string) error {
	if v == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("want host:port: %v", err)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return fmt.Errorf("want host:port with a port from 0 to 65535, not %q", port)
	}
	return nil
}

func nonEmpty(v string) error {
	if v == "" {
		return fmt.Errorf("must not be empty")
	}
	return nil
}

// splitList splits a Kafka LIST value: comma-separated, elements trimmed,
// empty input is the empty list.
func splitList(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	parts := strings.Split(v, ",")
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
