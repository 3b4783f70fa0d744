package storage

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/rs/zerolog"
)

// Sentinel errors. Callers test with errors.Is. The broker maps them to Kafka
// error codes (noted beside each).
var (
	ErrClosed            = errors.New("storage: log closed")
	ErrOffsetOutOfRange  = errors.New("storage: offset out of range")    // OFFSET_OUT_OF_RANGE
	ErrDuplicateSequence = errors.New("storage: duplicate sequence")     // success with the original offsets
	ErrOutOfOrderSeq     = errors.New("storage: out of order sequence")  // OUT_OF_ORDER_SEQUENCE_NUMBER
	ErrInvalidEpoch      = errors.New("storage: invalid producer epoch") // INVALID_PRODUCER_EPOCH
	ErrUnknownProducer   = errors.New("storage: unknown producer id")    // UNKNOWN_PRODUCER_ID (kept for transactions)
	// ErrInvalidTxnState: a non-transactional batch from a producer whose
	// transaction is open (INVALID_TXN_STATE).
	ErrInvalidTxnState = errors.New("storage: invalid transaction state")
	// ErrStaleVerification (an ErrInvalidTxnState): a transactional batch
	// whose producer's transaction ended (a marker) after the batch was
	// verified (Log.AppendVerified).
	ErrStaleVerification = fmt.Errorf("%w: the transaction ended after the batch was verified", ErrInvalidTxnState)
	// ErrCoordinatorFenced: a transaction marker from an older transaction
	// coordinator than the last one seen (TRANSACTION_COORDINATOR_FENCED).
	ErrCoordinatorFenced = errors.New("storage: transaction coordinator fenced")
	// ErrTopicIDMismatch: the directory belongs to an older topic of the same
	// name (deleted and re-created while this broker was down).
	ErrTopicIDMismatch = errors.New("storage: topic id mismatch")
	ErrStorage         = errors.New("storage: i/o error") // KAFKA_STORAGE_ERROR; sticky per log
)

// Config is one partition log's configuration, built by the broker from the
// topic's effective configs. Zero fields take Kafka's defaults (see
// DefaultConfig).
type Config struct {
	SegmentBytes       int64         // segment.bytes (1 GiB)
	SegmentMs          time.Duration // segment.ms (7 days)
	SegmentJitter      time.Duration // segment.jitter.ms (0): each segment rolls up to this much before segment.ms
	Preallocate        bool          // preallocate: log files created at SegmentBytes, cut on roll and close
	SegmentIndexBytes  int32         // segment.index.bytes (10 MiB)
	IndexIntervalBytes int32         // index.interval.bytes (4096)
	RetentionMs        time.Duration // retention.ms (7 days); <0 = unlimited
	RetentionBytes     int64         // retention.bytes (-1 = unlimited)
	FlushMessages      int64         // flush.messages (MaxInt64 = leave it to the OS)
	FlushMs            time.Duration // flush.ms (MaxInt64)
	FileDeleteDelay    time.Duration // file.delete.delay.ms (60 s); <0 = delete at once
	// ProducerIDExpiration is producer.id.expiration.ms (1 day).
	ProducerIDExpiration time.Duration
	// CleanupPolicy is cleanup.policy (CleanupDelete). Time and size
	// retention apply only when it includes CleanupDelete; the Manager's
	// cleaner compacts a log that includes CleanupCompact (cleaner.go).
	CleanupPolicy CleanupPolicy
	// Compaction (cleanup.policy=compact).
	DeleteRetention   time.Duration // delete.retention.ms (1 day): how long a tombstone outlives the cleaning that first kept it
	MinCompactionLag  time.Duration // min.compaction.lag.ms (0)
	MaxCompactionLag  time.Duration // max.compaction.lag.ms (MaxInt64 = none)
	MinCleanableRatio float64       // min.cleanable.dirty.ratio (0.5); Kafka's 0 is any tiny value
}

// CleanupPolicy is a set of cleanup.policy values.
type CleanupPolicy uint8

// cleanup.policy values.
const (
	CleanupDelete  CleanupPolicy = 1 << iota // "delete": retention.ms and retention.bytes
	CleanupCompact                           // "compact": the latest record per key (cleaner.go)
)

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:         1 << 30,
		SegmentMs:            7 * 24 * time.Hour,
		SegmentIndexBytes:    10 << 20,
		IndexIntervalBytes:   4096,
		RetentionMs:          7 * 24 * time.Hour,
		RetentionBytes:       -1,
		FlushMessages:        math.MaxInt64,
		FlushMs:              math.MaxInt64,
		FileDeleteDelay:      60 * time.Second,
		ProducerIDExpiration: 24 * time.Hour,
		CleanupPolicy:        CleanupDelete,
		DeleteRetention:      24 * time.Hour,
		MaxCompactionLag:     math.MaxInt64,
		MinCleanableRatio:    0.5,
	}
}

// rollMs is how old (ms) the active segment's first record may get before
// the segment rolls: segment.ms, and for a compacted log at most
// max.compaction.lag.ms (Kafka's LogConfig.maxSegmentMs), or the active
// segment would keep records from the cleaner past that lag.
func (c *Config) rollMs() int64 {
	ms := c.SegmentMs.Milliseconds()
	if c.CleanupPolicy&CleanupCompact != 0 && c.MaxCompactionLag > 0 {
		ms = min(ms, c.MaxCompactionLag.Milliseconds())
	}
	return ms
}

// randomJitterMs is a new segment's roll jitter: uniform in [0,
// min(segment.jitter.ms, segment.ms)) as Kafka's LogConfig.randomSegmentJitter.
func (c *Config) randomJitterMs() int64 {
	j := min(c.SegmentJitter.Milliseconds(), c.SegmentMs.Milliseconds())
	if j <= 0 {
		return 0
	}
	return rand.Int64N(j)
}

// withDefaults replaces zero fields by Kafka's defaults. FileDeleteDelay < 0
// means "delete immediately" (zero already means the 60 s default).
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = d.SegmentBytes
	}
	if c.SegmentMs <= 0 {
		c.SegmentMs = d.SegmentMs
	}
	if c.SegmentIndexBytes <= 0 {
		c.SegmentIndexBytes = d.SegmentIndexBytes
	}
	if c.SegmentIndexBytes < timeEntrySize {
		c.SegmentIndexBytes = timeEntrySize
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = d.IndexIntervalBytes
	}
	if c.RetentionMs == 0 {
		c.RetentionMs = d.RetentionMs
	}
	if c.RetentionBytes == 0 {
		c.RetentionBytes = d.RetentionBytes
	}
	if c.FlushMessages <= 0 {
		c.FlushMessages = d.FlushMessages
	}
	if c.FlushMs <= 0 {
		c.FlushMs = d.FlushMs
	}
	if c.FileDeleteDelay == 0 {
		c.FileDeleteDelay = d.FileDeleteDelay
	}
	if c.ProducerIDExpiration <= 0 {
		c.ProducerIDExpiration = d.ProducerIDExpiration
	}
	if c.CleanupPolicy == 0 {
		c.CleanupPolicy = d.CleanupPolicy
	}
	if c.DeleteRetention <= 0 {
		c.DeleteRetention = d.DeleteRetention
	}
	if c.MinCompactionLag < 0 {
		c.MinCompactionLag = 0
	}
	if c.MaxCompactionLag <= 0 {
		c.MaxCompactionLag = d.MaxCompactionLag
	}
	if c.MinCleanableRatio <= 0 || c.MinCleanableRatio > 1 {
		c.MinCleanableRatio = d.MinCleanableRatio
	}
	return c
}

// Options are the non-config dependencies of a Log.
type Options struct {
	FS     FS             // nil = the real OS file system
	Logger zerolog.Logger // with topic/partition fields already set
	Now    func() time.Time
	// CacheHotBytes is how much of the log's newest data stays in the page
	// cache; older data is written back and dropped from it (cache.go).
	// 0 leaves the page cache to the kernel, as Kafka does.
	CacheHotBytes int64
	// OnFailure is called once, when the log first fails (its error becomes
	// sticky: Log.Err), with that error. It runs on the goroutine whose
	// operation failed (an appender, Close, the post-roll flush, or one of
	// the Manager's background jobs: flush, retention, page-cache trimmer)
	// after the log's locks are released, so it may call the log; it must
	// not wait for Manager.Close, and should hand slow work (etcd) to
	// another goroutine.
	OnFailure func(err error)
	// FlushObserver, when set, is told how long each flush that fsynced
	// something took (the broker's log flush latency metric). It runs on
	// the flushing goroutine and must not block.
	FlushObserver func(time.Duration)
	// Durable is durable mode (durable.go): the high watermark never
	// passes the recovery point, so nothing is acknowledged or read
	// before it is fsynced; SyncTo waits for an offset to be, sharing one
	// fsync among everyone waiting (group commit). flush.messages no
	// longer fsyncs on the append path.
	Durable bool

	trimmer *cacheTrimmer // the Manager's; nil: passes only on trimCache
}

// AppendResult describes a successful append.
type AppendResult struct {
	BaseOffset     int64
	LastOffset     int64
	LogAppendTime  int64 // -1 unless the batch was stamped with LogAppendTime
	LogStartOffset int64
}

// ReadResult is the answer to a Read.
type ReadResult struct {
	// Records holds whole batches, byte-identical to what was appended
	// (after offset/epoch assignment). Empty when there is nothing to read.
	Records []byte
	// Buf is ReadInto's dst with Records appended (possibly reallocated),
	// for the caller's next ReadInto.
	Buf            []byte
	HighWatermark  int64
	LogStartOffset int64
	LogEndOffset   int64
}

// ProducerEntry is the last known state of one producer on a partition.
type ProducerEntry struct {
	ProducerID    int64
	ProducerEpoch int16
	LastSequence  int32
	LastOffset    int64
	LastTimestamp int64
	// CoordinatorEpoch is that of the producer's last transaction marker
	// (-1: none); CurrentTxnFirstOffset the first offset of its open
	// transaction (-1: none).
	CoordinatorEpoch      int32
	CurrentTxnFirstOffset int64
}
