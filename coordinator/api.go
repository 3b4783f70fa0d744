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
	ID int32 `json:"id"`
	// Host and Port are the first advertised listener's (what a
	// registration without Endpoints, from before named listeners, had).
	Host string  `json:"host"`
	Port int32   `json:"port"`
	Rack *string `json:"rack,omitempty"`
	// Endpoints are every advertised listener, by name: a client is
	// answered with the endpoint of the listener it connected through.
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	// DirectoryID is the directory.id of the broker's log directory
	// (meta.properties). The controller records the last one in
	// broker-dirs/<id>; a broker registering with another one lost its
	// disk and is removed from every ISR and ELR before it leads
	// anything (see BrokerDirs).
	DirectoryID string `json:"directory_id,omitempty"`
	// ShuttingDown is set by a controlled shutdown: the controller moves
	// the broker's leaderships away and removes it from the ISRs.
	ShuttingDown bool `json:"shutting_down,omitempty"`
	// OfflineReplicas are the broker's replicas whose logs it cannot serve
	// (a log that failed to open, or failed a write): Metadata lists them
	// as offline and never names the broker as their leader.
	OfflineReplicas []ReplicaRef `json:"offline_replicas,omitempty"`
	// UncleanShutdown: the broker started after an unclean shutdown (a
	// log without its clean-shutdown marker), so its logs may lack what
	// it had not flushed (KIP-966). The controller takes it out of every
	// ELR and ISR (never the last ISR member); the broker clears the
	// flag once its Snapshot shows that done (SetUncleanShutdown).
	UncleanShutdown bool `json:"unclean_shutdown,omitempty"`

	// ModRevision is the etcd mod revision of the registration in the
	// Snapshot; not stored. Writes decided on a Snapshot by a broker
	// other than the controller compare it (AdminWrite).
	ModRevision int64 `json:"-"`
}

// Endpoint is one advertised listener of a broker.
type Endpoint struct {
	Name             string `json:"name"` // listener name, upper case ("PLAINTEXT")
	Host             string `json:"host"`
	Port             int32  `json:"port"`
	SecurityProtocol string `json:"security_protocol"`
}

// Endpoint returns the broker's endpoint for the listener name. A
// registration without endpoints (written before named listeners existed)
// answers its Host and Port for every name.
func (b BrokerInfo) Endpoint(listener string) (Endpoint, bool) {
	if len(b.Endpoints) == 0 {
		return Endpoint{Name: listener, Host: b.Host, Port: b.Port, SecurityProtocol: "PLAINTEXT"}, b.Host != ""
	}
	for _, e := range b.Endpoints {
		if e.Name == listener {
			return e, true
		}
	}
	return Endpoint{}, false
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
//
// LeaderEpoch is bumped on every change of leader (to -1 and back too);
// PartitionEpoch on every write (UpdatePartitionState), the CAS token.
type PartitionState struct {
	Leader         int32   `json:"leader"` // -1 = none
	LeaderEpoch    int32   `json:"leader_epoch"`
	PartitionEpoch int32   `json:"partition_epoch"`
	ISR            []int32 `json:"isr"`
	// ELR are the eligible leader replicas (KIP-966): replicas removed
	// from the ISR while it was below min.insync.replicas. The high
	// watermark cannot advance below min.insync.replicas, so each holds
	// everything committed: a clean leader when no ISR member is left.
	// Cleared when the ISR is back at min.insync.replicas (WithISR).
	ELR []int32 `json:"elr,omitempty"`
	// Replicas is the assignment in order; the first is the preferred
	// leader.
	Replicas []int32 `json:"replicas"`
	// AddingReplicas and RemovingReplicas describe a reassignment in
	// progress (the target is Replicas minus RemovingReplicas).
	AddingReplicas   []int32 `json:"adding_replicas,omitempty"`
	RemovingReplicas []int32 `json:"removing_replicas,omitempty"`

	// ModRevision is the etcd mod revision of the state in the Snapshot
	// (0 for a partition whose key is missing); not stored. The
	// controller's writes compare it.
	ModRevision int64 `json:"-"`
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
