// Package config defines every broker and topic property samsa understands,
// with Kafka's names, types, defaults and validation; parses them from
// server.properties, --override flags and KAFKA_* environment variables; and
// resolves a topic's effective configuration (its overrides over the broker's
// defaults) for DescribeConfigs and for the partition logs.
package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// ErrInvalid wraps every unknown-key or bad-value error; the message names the
// key and the reason. The broker answers it with INVALID_CONFIG.
var ErrInvalid = errors.New("config: invalid")

// Source is where an effective value comes from (DescribeConfigs'
// ConfigSource numbering).
type Source int8

const (
	SourceUnknown          Source = 0
	SourceDynamicTopic     Source = 1 // TOPIC_CONFIG
	SourceDynamicBroker    Source = 2
	SourceDynamicDefault   Source = 3
	SourceStaticBroker     Source = 4 // server.properties / flags / env
	SourceDefault          Source = 5 // DEFAULT_CONFIG
	SourceDynamicBrokerLog Source = 6
	SourceGroup            Source = 8 // GROUP_CONFIG: a group's override (KIP-848)
)

// Type is a property's type as DescribeConfigs v3+ reports it.
type Type int8

const (
	TypeBoolean  Type = 1
	TypeString   Type = 2
	TypeInt      Type = 3
	TypeShort    Type = 4
	TypeLong     Type = 5
	TypeDouble   Type = 6
	TypeList     Type = 7
	TypeClass    Type = 8
	TypePassword Type = 9
)

// Listener is one parsed entry of listeners / advertised.listeners.
type Listener struct {
	Name string // "PLAINTEXT"
	Host string
	Port int32
}

// Voter is one entry of controller.quorum.voters (id@host:port).
type Voter struct {
	ID   int32
	Host string
	Port int32
}

// String formats v as in controller.quorum.voters.
func (v Voter) String() string {
	return strconv.Itoa(int(v.ID)) + "@" + net.JoinHostPort(v.Host, strconv.Itoa(int(v.Port)))
}

// String formats l as in listeners: NAME://host:port, IPv6 hosts bracketed.
func (l Listener) String() string {
	return l.Name + "://" + net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
}

// Entry is one effective value with its provenance.
type Entry struct {
	Name      string
	Value     string
	Source    Source
	Type      Type
	Sensitive bool
	ReadOnly  bool
	Doc       string
	// Null is set when the property has no value at all (an unset
	// property whose default is null, such as log.retention.ms);
	// DescribeConfigs then sends a null Value.
	Null bool
	// Synonyms, most specific first (e.g. for a topic's retention.ms:
	// the topic override, then log.retention.ms from the broker, then the
	// default).
	Synonyms []Entry
}

// Error is the error for one bad property: an unknown key or a value that
// does not parse or validate. It wraps ErrInvalid. NewBroker may return
// several of them joined (errors.Join); errors.As finds the first.
type Error struct {
	Key     string
	Value   string
	Reason  string
	Unknown bool // the key itself is not known
}

func (e *Error) Error() string {
	if e.Unknown {
		return "config: " + e.Reason
	}
	return fmt.Sprintf("config: invalid value %q for configuration %s: %s", e.Value, e.Key, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *Error) Unwrap() error { return ErrInvalid }

// Message is the error text without the package prefix, in the form Kafka
// puts into ErrorMessage fields ("Invalid value x for configuration y: ...").
func (e *Error) Message() string {
	if e.Unknown {
		return e.Reason
	}
	return fmt.Sprintf("Invalid value %s for configuration %s: %s", e.Value, e.Key, e.Reason)
}

// Broker is the parsed, validated broker configuration. The typed fields are
// the values the broker needs on hot paths; Get, Entries and the typed
// accessors (Int64, Bool, Str) reach every other property.
type Broker struct {
	BrokerID            int32 // node.id, else broker.id
	Rack                string
	Listeners           []Listener // controller.listener.names removed; Port 0 = ephemeral
	AdvertisedListeners []Listener // defaults to Listeners (empty host -> this host's name)
	InterBrokerListener string     // listener name followers use (inter.broker.listener.name)
	// ListenerProtocols maps each listener name to its security protocol
	// (listener.security.protocol.map).
	ListenerProtocols map[string]string
	// Security is each listener's TLS and SASL configuration, by name
	// (security.go).
	Security map[string]*ListenerSecurity
	// Combined is combined mode (process.roles=broker,controller with
	// several controller.quorum.voters): this broker runs a member of a
	// multi-member embedded etcd, named by its node id, listening for
	// peers on ControllerListener and reachable by the others at its
	// voter address.
	Combined                 bool
	QuorumVoters             []Voter       // controller.quorum.voters, in the given order
	ControllerListener       Listener      // combined mode: the first of controller.listener.names
	SessionTimeout           time.Duration // broker.session.timeout.ms: the registration lease TTL
	DataDir                  string        // log.dirs (first entry) / --data-dir, else log.dir
	DataDirs                 []string      // every log.dirs entry (DataDir first); [DataDir] without log.dirs
	EtcdEndpoints            []string      // empty = embedded etcd
	EtcdPrefix               string
	AdoptExistingData        bool // samsa.adopt.existing.data
	TransactionsEnabled      bool // samsa.transactions.enable
	RecoveryThreads          int  // num.recovery.threads.per.data.dir
	NumPartitions            int32
	DefaultReplicationFactor int16
	AutoCreateTopics         bool
	DeleteTopicEnable        bool
	SocketRequestMaxBytes    int32
	// ConnectionsMaxIdle is connections.max.idle.ms; negative: never.
	ConnectionsMaxIdle  time.Duration
	FetchMaxBytes       int32 // fetch.max.bytes
	MaxConnections      int32 // max.connections
	MaxConnectionsPerIP int32 // max.connections.per.ip
	// MaxConnectionsPerIPOverrides is max.connections.per.ip.overrides,
	// host (canonical IP or lower-case name) -> count.
	MaxConnectionsPerIPOverrides map[string]int32
	MaxPartitionsPerRequest      int32 // max.partitions.per.request
	MessageMaxBytes              int32
	MinInsyncReplicas            int32
	RetentionCheckInterval       time.Duration
	CacheHotBytes                int64 // log.cache.hot.bytes
	CacheHotTotalBytes           int64 // log.cache.hot.total.bytes
	GroupInitialRebalanceDelay   time.Duration
	GroupMinSessionTimeout       time.Duration
	GroupMaxSessionTimeout       time.Duration
	OffsetsTopicNumPartitions    int32
	OffsetsTopicReplication      int16
	OffsetsRetention             time.Duration // offsets.retention.minutes
	TxnTopicNumPartitions        int32         // transaction.state.log.num.partitions
	TxnTopicReplication          int16         // transaction.state.log.replication.factor
	TxnTopicMinISR               int32         // transaction.state.log.min.isr
	TransactionMaxTimeout        time.Duration
	TransactionalIDExpiration    time.Duration
	TxnAbortTimedOutInterval     time.Duration // transaction.abort.timed.out.transaction.cleanup.interval.ms
	TxnRemoveExpiredInterval     time.Duration // transaction.remove.expired.transaction.cleanup.interval.ms
	ProducerIDExpiration         time.Duration

	// static holds the properties set in server.properties, the
	// environment or flags (trimmed), known broker properties only.
	static map[string]string
	// controllerListeners are the listeners of controller.listener.names
	// (removed from Listeners).
	controllerListeners []Listener
	// ignored holds accepted-but-meaningless properties (see IgnoredKeys).
	ignored  map[string]string
	warnings []string
	inert    []Inert // see Inert

	// dynBroker and dynDefault are the dynamic layers (dynamic.go): this
	// broker's own values and the cluster-wide defaults, over static.
	// dropped notes the dynamic values WithDynamic could not apply.
	dynBroker  map[string]string
	dynDefault map[string]string
	dropped    []string
}

// RackID is broker.rack as BrokerInfo and Metadata carry it: nil when unset.
func (b *Broker) RackID() *string {
	if b.Rack == "" {
		return nil
	}
	r := b.Rack
	return &r
}
