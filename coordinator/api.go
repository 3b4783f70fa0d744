// Shared types and sentinel errors of the coordinator; see doc.go for the
// key layout.

package coordinator

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// Sentinel errors.
var (
	ErrTopicExists       = errors.New("coordinator: topic already exists")
	ErrUnknownTopic      = errors.New("coordinator: unknown topic")
	ErrConflict          = errors.New("coordinator: concurrent modification") // CAS lost
	ErrInvalidPartitions = errors.New("coordinator: invalid partition count")
	ErrClosed            = errors.New("coordinator: closed")
	// ErrNoCluster: etcd holds no cluster id under the prefix and
	// Config.NoCreate forbids creating one.
	ErrNoCluster = errors.New("coordinator: no cluster in etcd")
	// ErrClusterIDMismatch (see ClusterIDMismatchError): etcd belongs to
	// another cluster than the broker's data.
	ErrClusterIDMismatch = errors.New("coordinator: cluster id mismatch")
	// ErrBrokerIDInUse: another live broker (a different host:port) holds
	// the broker id.
	ErrBrokerIDInUse = errors.New("coordinator: broker id already registered")
)

// BrokerInfo is what a broker registers.
type BrokerInfo struct {
	ID   int32   `json:"id"`
	Host string  `json:"host"`
	Port int32   `json:"port"`
	Rack *string `json:"rack,omitempty"`
	// OfflineReplicas are the broker's replicas whose logs it cannot serve
	// (a log that failed to open, or failed a write): Metadata lists them
	// as offline and never names the broker as their leader.
	OfflineReplicas []ReplicaRef `json:"offline_replicas,omitempty"`
}

// ReplicaRef names one partition of a topic id.
type ReplicaRef struct {
	TopicID   TopicID `json:"topic_id"`
	Partition int32   `json:"partition"`
}

// TopicInfo is the value stored at topics/<name>.
type TopicInfo struct {
	Name string  `json:"name"`
	ID   TopicID `json:"id"`
	// Replicas[p] lists the replica broker ids of partition p (the first is
	// the preferred leader).
	Replicas [][]int32         `json:"replicas"`
	Configs  map[string]string `json:"configs,omitempty"` // only the overrides
	Internal bool              `json:"internal,omitempty"`
}

// PartitionState is the value stored at partitions/<topic-id>/<n>.
// In a Snapshot, a partition whose state key does not exist (yet) has
// Leader, LeaderEpoch and PartitionEpoch -1 and the assigned Replicas.
type PartitionState struct {
	Leader         int32   `json:"leader"` // -1 = none
	LeaderEpoch    int32   `json:"leader_epoch"`
	PartitionEpoch int32   `json:"partition_epoch"`
	ISR            []int32 `json:"isr"`
	Replicas       []int32 `json:"replicas"`
}

// TopicTombstone is the value stored at topics-deleted/<topic-id> by
// DeleteTopic: the positive record that the topic id was deleted, which is
// the only thing that lets a broker delete the logs of that id. It stays
// until every broker that held a replica has confirmed that its logs of the
// topic are gone (AckTopicDeletion), so a broker that was down during the
// deletion still finds it when it comes back.
type TopicTombstone struct {
	Name        string  `json:"name"`
	DeletedAtMs int64   `json:"deleted_at_ms"`
	Partitions  int     `json:"partitions"`
	Pending     []int32 `json:"pending"` // brokers yet to confirm
}

// TopicID is a Kafka topic id (a UUID). In JSON and logs it is rendered the
// way Kafka renders it: URL-safe base64 without padding.
type TopicID [16]byte

// MetadataTopicID is Kafka's reserved id of the __cluster_metadata topic
// (AAAAAAAAAAAAAAAAAAAAAQ); never assigned to a topic.
var MetadataTopicID = TopicID{15: 1}

// String renders the id as Kafka does (Uuid.toString): URL-safe base64 of
// the 16 bytes without padding, 22 characters.
func (id TopicID) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// IsZero reports whether id is the zero uuid (Kafka's "no topic id").
func (id TopicID) IsZero() bool { return id == TopicID{} }

// MarshalText implements encoding.TextMarshaler.
func (id TopicID) MarshalText() ([]byte, error) {
	b := make([]byte, base64.RawURLEncoding.EncodedLen(len(id)))
	base64.RawURLEncoding.Encode(b, id[:])
	return b, nil
}

// UnmarshalText implements encoding.TextUnmarshaler. It accepts the 22
// character form and, like Kafka's Uuid.fromString, a padded one.
func (id *TopicID) UnmarshalText(b []byte) error {
	b = bytes.TrimRight(b, "=")
	if base64.RawURLEncoding.DecodedLen(len(b)) != len(id) {
		return fmt.Errorf("coordinator: topic id %q: want 22 base64 characters", b)
	}
	var out TopicID
	n, err := base64.RawURLEncoding.Decode(out[:], b)
	if err != nil || n != len(out) {
		return fmt.Errorf("coordinator: topic id %q: invalid base64: %v", b, err)
	}
	*id = out
	return nil
}

// NewTopicID returns a random (version 4) topic id that is neither the zero
// uuid nor MetadataTopicID and whose string form does not start with '-'
// (Kafka's Uuid.randomUuid rules, so command-line tools can take it as an
// argument).
func NewTopicID() TopicID {
	for {
		var id TopicID
		if _, err := rand.Read(id[:]); err != nil {
			panic(fmt.Sprintf("coordinator: crypto/rand: %v", err)) // never fails on supported platforms
		}
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
		if id.IsZero() || id == MetadataTopicID || id.String()[0] == '-' {
			continue
		}
		return id
	}
}
