package storage

import (
	"time"
)

// Log is one partition's log (Kafka's UnifiedLog): a directory of segments,
// the leader-epoch cache and the producer state. Safe for concurrent use;
// appends are serialised, reads run concurrently with appends.
type Log struct {
	// TODO
}

// Open opens (or creates) the partition log in dir, recovering it when the
// previous shutdown was unclean (no clean-shutdown marker): the tail past the
// recovery point is scanned, the log is truncated at the first invalid batch
// (the number of bytes cut is logged), and missing or corrupt indexes are
// rebuilt. topicID is written to partition.metadata.
func Open(dir string, topicID [16]byte, cfg Config, opts Options) (*Log, error) {
	panic("TODO")
}

// Append writes one already-validated v2 batch (protocol.ValidateProduceBatch)
// as the leader: it assigns the base offset and writes leaderEpoch into the
// batch in place, stamps LogAppendTime when logAppendTime >= 0, checks the
// idempotent producer sequence when the batch has a producer id, updates the
// indexes and the leader-epoch cache, and writes. batch is modified in place
// and must not be reused by the caller after the call.
//
// A retried duplicate (same producer, epoch and sequence range as one of the
// last five batches of that producer) returns ErrDuplicateSequence together
// with the AppendResult of the original batch; nothing is written.
func (l *Log) Append(batch []byte, leaderEpoch int32, logAppendTime int64) (AppendResult, error) {
	panic("TODO")
}

// Read returns whole batches starting at the batch containing offset, up to
// maxBytes in total, stopping before upTo (exclusive; pass the high watermark
// for consumers). When minOneBatch is set the first batch is returned whole
// even when it is larger than maxBytes. offset past upTo-or-LEO, or below the
// log start offset, returns ErrOffsetOutOfRange.
func (l *Log) Read(offset int64, maxBytes int32, upTo int64, minOneBatch bool) (ReadResult, error) {
	panic("TODO")
}

// LogStartOffset is the first offset a consumer can read.
func (l *Log) LogStartOffset() int64 { panic("TODO") }

// LogEndOffset is the offset the next appended record will get.
func (l *Log) LogEndOffset() int64 { panic("TODO") }

// HighWatermark is the last committed offset + 1 as set by SetHighWatermark
// (the broker's replica layer owns it; for a single replica it follows the
// log end offset). It is checkpointed on Close.
func (l *Log) HighWatermark() int64 { panic("TODO") }

// SetHighWatermark moves the high watermark (never above the log end offset).
func (l *Log) SetHighWatermark(hw int64) { panic("TODO") }

// OffsetForTimestamp returns the first offset whose record timestamp is >= ts
// and that record's timestamp, as ListOffsets does. found=false when no such
// record exists.
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, found bool, err error) {
	panic("TODO")
}

// MaxTimestamp returns the offset and timestamp of the record with the largest
// timestamp (ListOffsets MAX_TIMESTAMP, KIP-734). found=false on an empty log.
func (l *Log) MaxTimestamp() (offset int64, timestamp int64, found bool, err error) {
	panic("TODO")
}

// LatestEpoch returns the newest leader epoch in the leader-epoch cache, or -1.
func (l *Log) LatestEpoch() int32 { panic("TODO") }

// EndOffsetForEpoch answers OffsetForLeaderEpoch: the end offset of the
// requested epoch (the start offset of the next larger epoch, or the log end
// offset when epoch is the latest) and the largest epoch <= the requested one.
// Unknown (smaller than the first epoch) returns (-1, -1).
func (l *Log) EndOffsetForEpoch(epoch int32) (endOffset int64, foundEpoch int32) {
	panic("TODO")
}

// DeleteRecordsBefore moves the log start offset forward to offset (Kafka's
// DeleteRecords), deleting segments entirely below it.
func (l *Log) DeleteRecordsBefore(offset int64) (newLogStartOffset int64, err error) {
	panic("TODO")
}

// TruncateTo removes everything at and above offset (followers, after a
// leader change). Also truncates the leader-epoch cache and producer state.
func (l *Log) TruncateTo(offset int64) error { panic("TODO") }

// ApplyRetention deletes segments past retention.ms / retention.bytes (never
// the active segment), rolls the active segment when segment.ms elapsed, and
// returns the bytes freed.
func (l *Log) ApplyRetention(now time.Time) (int64, error) { panic("TODO") }

// UpdateConfig applies a new configuration (AlterConfigs) to an open log.
func (l *Log) UpdateConfig(cfg Config) { panic("TODO") }

// Flush fsyncs everything written so far and advances the recovery point.
func (l *Log) Flush() error { panic("TODO") }

// ProducerState returns the last known state of a producer, if any.
func (l *Log) ProducerState(producerID int64) (ProducerEntry, bool) { panic("TODO") }

// Size is the total bytes of all segments.
func (l *Log) Size() int64 { panic("TODO") }

// Close flushes, writes the producer-state snapshot, the checkpoints and the
// clean-shutdown marker, and closes every file.
func (l *Log) Close() error { panic("TODO") }

// Delete closes the log and removes its directory.
func (l *Log) Delete() error { panic("TODO") }
