// Package config defines every broker and topic property samsa understands,
// with Kafka's names, types, defaults and validation; parses them from
// server.properties, --override flags and KAFKA_* environment variables; and
// resolves a topic's effective configuration (its overrides over the broker's
// defaults) for DescribeConfigs and for the partition logs.
package config

import (
	"errors"
	"time"

	"github.com/samsa-io/samsa/storage"
)

// ErrInvalid wraps every unknown-key or bad-value error; the message names the
// key and the reason. The broker answers it with INVALID_CONFIG.
var ErrInvalid = errors.New("config: invalid")

// Source is where an effective value comes from (DescribeConfigs'
// ConfigSource numbering).
type Source int8

const (
	SourceUnknown           Source = 0
	SourceDynamicTopic      Source = 1 // TOPIC_CONFIG
	SourceDynamicBroker     Source = 2
	SourceDynamicDefault    Source = 3
	SourceStaticBroker      Source = 4 // server.properties / flags / env
	SourceDefault           Source = 5 // DEFAULT_CONFIG
	SourceDynamicBrokerLog  Source = 6
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

// Entry is one effective value with its provenance.
type Entry struct {
	Name      string
	Value     string
	Source    Source
	Type      Type
	Sensitive bool
	ReadOnly  bool
	Doc       string
	// Synonyms, most specific first (e.g. for a topic's retention.ms:
	// the topic override, then log.retention.ms from the broker, then the
	// default).
	Synonyms []Entry
}

// Broker is the parsed, validated broker configuration.
type Broker struct {
	BrokerID                 int32
	Listeners                []Listener
	AdvertisedListeners      []Listener // defaults to Listeners
	DataDir                  string     // log.dirs (first entry) / --data-dir
	EtcdEndpoints            []string
	EtcdPrefix               string
	NumPartitions            int32
	DefaultReplicationFactor int16
	AutoCreateTopics         bool
	SocketRequestMaxBytes    int32
	RetentionCheckInterval   time.Duration
	GroupInitialRebalanceDelay time.Duration
	// values holds every known property's effective value and source.
	values map[string]Entry
}

// NewBroker validates props (key -> value, already merged with precedence
// defaults < file < env < flags by the caller, each tagged static) and returns
// the broker configuration. Unknown keys and bad values return an error
// wrapping ErrInvalid that names the key.
func NewBroker(props map[string]string) (*Broker, error) { panic("TODO") }

// Entries returns every broker property for DescribeConfigs(BROKER), sorted
// by name.
func (b *Broker) Entries() []Entry { panic("TODO") }

// Get returns one effective broker property.
func (b *Broker) Get(name string) (Entry, bool) { panic("TODO") }

// ValidateTopicConfigs checks topic-level overrides (CreateTopics,
// AlterConfigs): every key must be a known topic config and every value valid.
func ValidateTopicConfigs(overrides map[string]string) error { panic("TODO") }

// Topic is a topic's resolved configuration.
type Topic struct {
	CleanupPolicyCompact bool  // cleanup.policy contains "compact"
	MaxMessageBytes      int32 // max.message.bytes
	LogAppendTime        bool  // message.timestamp.type=LogAppendTime
	MinInsyncReplicas    int32
	Log                  storage.Config
}

// ResolveTopic merges a topic's overrides over the broker's defaults.
// overrides are assumed valid (ValidateTopicConfigs ran when they were set).
func (b *Broker) ResolveTopic(overrides map[string]string) Topic { panic("TODO") }

// TopicEntries returns every topic config's effective value and source for
// DescribeConfigs(TOPIC), sorted by name.
func (b *Broker) TopicEntries(overrides map[string]string) []Entry { panic("TODO") }

// IsTopicConfig reports whether name is a known topic-level config.
func IsTopicConfig(name string) bool { panic("TODO") }
