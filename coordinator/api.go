// Package coordinator holds everything samsa keeps in etcd: the cluster id,
// the broker registry, controller election, topics and partition state,
// topic configs and producer-id blocks (later: consumer groups, offsets,
// transactions, ACLs). Every broker keeps an immutable in-memory Snapshot of
// the cluster metadata, kept current by a watch, so that Metadata, Produce
// and Fetch never wait on etcd.
//
// Key layout under the prefix (default "/samsa/"):
//
//	<prefix>cluster-id                         the cluster id (created once)
//	<prefix><cluster-id>/brokers/<id>          BrokerInfo JSON, under a lease
//	<prefix><cluster-id>/controller            election key prefix
//	<prefix><cluster-id>/topics/<name>         TopicInfo JSON
//	<prefix><cluster-id>/partitions/<topic-id>/<n>  PartitionState JSON
//	<prefix><cluster-id>/producer-ids          next free producer id block
//
// Every change to a partition's state is a transaction that compares the
// key's mod revision, so a stale writer can never overwrite a newer state.
package coordinator

import (
	"errors"
)

// Sentinel errors.
var (
	ErrTopicExists       = errors.New("coordinator: topic already exists")
	ErrUnknownTopic      = errors.New("coordinator: unknown topic")
	ErrConflict          = errors.New("coordinator: concurrent modification") // CAS lost
	ErrInvalidPartitions = errors.New("coordinator: invalid partition count")
	ErrClosed            = errors.New("coordinator: closed")
)

// BrokerInfo is what a broker registers.
type BrokerInfo struct {
	ID   int32   `json:"id"`
	Host string  `json:"host"`
	Port int32   `json:"port"`
	Rack *string `json:"rack,omitempty"`
}

// TopicInfo is the value stored at topics/<name>.
type TopicInfo struct {
	Name    string   `json:"name"`
	ID      TopicID  `json:"id"`
	// Replicas[p] lists the replica broker ids of partition p (the first is
	// the preferred leader).
	Replicas [][]int32        `json:"replicas"`
	Configs  map[string]string `json:"configs,omitempty"` // only the overrides
	Internal bool              `json:"internal,omitempty"`
}

// PartitionState is the value stored at partitions/<topic-id>/<n>.
type PartitionState struct {
	Leader         int32   `json:"leader"` // -1 = none
	LeaderEpoch    int32   `json:"leader_epoch"`
	PartitionEpoch int32   `json:"partition_epoch"`
	ISR            []int32 `json:"isr"`
	Replicas       []int32 `json:"replicas"`
}

// TopicID is a Kafka topic id (a UUID). In JSON and logs it is rendered the
// way Kafka renders it: URL-safe base64 without padding.
type TopicID [16]byte

// String renders the id as Kafka does.
func (id TopicID) String() string { panic("TODO") }

// MarshalText implements encoding.TextMarshaler.
func (id TopicID) MarshalText() ([]byte, error) { panic("TODO") }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *TopicID) UnmarshalText(b []byte) error { panic("TODO") }

// NewTopicID returns a random, non-zero topic id.
func NewTopicID() TopicID { panic("TODO") }
