package coordinator

import (
	"context"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Config configures a Store.
type Config struct {
	// Endpoints of an external etcd cluster; empty means an embedded
	// single-node etcd in EmbeddedDir.
	Endpoints   []string
	EmbeddedDir string // e.g. <data-dir>/etcd
	Prefix      string // default "/samsa/"; always ends in "/"
	// SessionTTL is the broker-registration lease TTL (the failure
	// detector); default 10 s.
	SessionTTL time.Duration
	Logger     zerolog.Logger
}

// Store is a broker's connection to the cluster state in etcd. It starts the
// embedded etcd when no endpoints are given, resolves the cluster id, and
// keeps the metadata Snapshot current with a watch.
type Store struct {
	// TODO
}

// Open connects (starting the embedded etcd if needed), creates or reads
// the cluster id, loads the current metadata and starts the watch. It returns
// once the first Snapshot is available.
func Open(ctx context.Context, cfg Config) (*Store, error) { panic("TODO") }

// ClusterID is the cluster id (22-char base64 like Kafka's).
func (s *Store) ClusterID() string { panic("TODO") }

// Snapshot returns the current immutable metadata snapshot. Never blocks.
func (s *Store) Snapshot() *Snapshot { panic("TODO") }

// Changes returns a channel that receives a value (non-blocking, capacity 1)
// each time a new Snapshot is installed. Used by the broker to react to
// leadership and topic changes.
func (s *Store) Changes() <-chan struct{} { panic("TODO") }

// WaitForRevision blocks until the installed Snapshot reflects etcd revision
// rev (or ctx ends). Handlers that write metadata call it so that their
// response and the next Metadata request agree.
func (s *Store) WaitForRevision(ctx context.Context, rev int64) error { panic("TODO") }

// RegisterBroker registers this broker under a lease kept alive in the
// background; the key disappears when the process dies (lease expiry) or on
// Deregister. It also campaigns for the controller role.
func (s *Store) RegisterBroker(ctx context.Context, info BrokerInfo) error { panic("TODO") }

// Deregister removes the broker key and revokes the lease (clean shutdown).
func (s *Store) Deregister(ctx context.Context) error { panic("TODO") }

// IsController reports whether this broker currently holds the controller
// election.
func (s *Store) IsController() bool { panic("TODO") }

// CreateTopic writes the topic and the initial state of each of its
// partitions (leader = the first live replica, epoch 0, ISR = the live
// replicas) in etcd transactions (chunked within etcd's limits), failing with
// ErrTopicExists if the name is taken. Returns the etcd revision of the write.
func (s *Store) CreateTopic(ctx context.Context, t TopicInfo) (int64, error) { panic("TODO") }

// DeleteTopic removes the topic and its partition states. ErrUnknownTopic if
// absent. Returns the revision.
func (s *Store) DeleteTopic(ctx context.Context, name string) (int64, error) { panic("TODO") }

// AddPartitions appends partitions with the given replica assignments
// (CreatePartitions). Fails with ErrConflict if the topic changed meanwhile.
func (s *Store) AddPartitions(ctx context.Context, name string, newReplicas [][]int32) (int64, error) {
	panic("TODO")
}

// SetTopicConfigs replaces the topic's config overrides.
func (s *Store) SetTopicConfigs(ctx context.Context, name string, configs map[string]string) (int64, error) {
	panic("TODO")
}

// UpdatePartitionState CASes a partition's state: it succeeds only if the
// stored state's partition epoch equals expectedPartitionEpoch, and bumps the
// partition epoch itself.
func (s *Store) UpdatePartitionState(ctx context.Context, topicID TopicID, partition int32, expectedPartitionEpoch int32, st PartitionState) (int64, error) {
	panic("TODO")
}

// AllocateProducerIDs reserves a block of n producer ids and returns its
// first id. Ids are never reused.
func (s *Store) AllocateProducerIDs(ctx context.Context, n int64) (int64, error) { panic("TODO") }

// Client exposes the etcd client (tests, and later coordinator parts).
func (s *Store) Client() *clientv3.Client { panic("TODO") }

// Key returns the full etcd key for a path under the cluster's prefix, e.g.
// Key("topics", "foo") = "/samsa/<cluster-id>/topics/foo".
func (s *Store) Key(parts ...string) string { panic("TODO") }

// Close stops the watch and keepalive, closes the client and the embedded etcd.
func (s *Store) Close() error { panic("TODO") }
