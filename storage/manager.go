package storage

import (
	"time"

	"github.com/rs/zerolog"
)

// Manager owns every partition log under one data directory (Kafka's
// LogManager): it opens the logs found at start-up, creates and deletes them,
// and runs the background retention and flush jobs.
type Manager struct {
	// TODO
}

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	FS     FS
	Logger zerolog.Logger
	Now    func() time.Time
	// RetentionCheckInterval is log.retention.check.interval.ms (5 min).
	RetentionCheckInterval time.Duration
	// FlushCheckInterval is how often flush.ms is checked (1 s is fine).
	FlushCheckInterval time.Duration
}

// PartitionDir is "<dataDir>/<topic>-<partition>".
func PartitionDir(dataDir, topic string, partition int32) string { panic("TODO") }

// NewManager opens the data directory. Existing partition directories are not
// opened until GetOrCreate asks for them (the broker knows each partition's
// topic id and config from metadata); Existing lists them.
func NewManager(dataDir string, opts ManagerOptions) (*Manager, error) { panic("TODO") }

// Existing lists the (topic, partition) directories present on disk.
func (m *Manager) Existing() []TopicPartition { panic("TODO") }

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// GetOrCreate returns the open log for the partition, opening or creating it.
func (m *Manager) GetOrCreate(topic string, partition int32, topicID [16]byte, cfg Config) (*Log, error) {
	panic("TODO")
}

// Get returns the open log, or nil.
func (m *Manager) Get(topic string, partition int32) *Log { panic("TODO") }

// Delete closes and removes the partition's log (rename to a
// "<topic>-<partition>.<id>-delete" directory first, remove in background, as
// Kafka does).
func (m *Manager) Delete(topic string, partition int32) error { panic("TODO") }

// Start runs the background retention and flush jobs until Close.
func (m *Manager) Start() { panic("TODO") }

// Close stops the background jobs and closes every log cleanly.
func (m *Manager) Close() error { panic("TODO") }
