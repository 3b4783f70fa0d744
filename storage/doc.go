// Package storage is samsa's partition-log layer, laid out on disk as Apache
// Kafka lays out its logs so that Kafka's own tools (kafka-dump-log /
// DumpLogSegments) read our segments. Names follow Kafka's log layer: Log is
// UnifiedLog, segment is LogSegment, offsetIndex/timeIndex are OffsetIndex and
// TimeIndex, leaderEpochCache is LeaderEpochFileCache, producerState is
// ProducerStateManager (idempotence and transactions, txn.go), Manager is
// LogManager.
//
// # Files
//
// One directory per partition, "<data-dir>/<topic>-<partition>/":
//
//	%020d.log          batches, byte-identical to the v2 RecordBatch wire format;
//	                   baseOffset and partitionLeaderEpoch assigned in place
//	                   (outside the CRC); LogAppendTime stamping rewrites
//	                   attributes/maxTimestamp and the CRC-32C.
//	%020d.index        Kafka's offset index: 8-byte big-endian entries
//	                   (int32 lastOffset-base of a batch, int32 file position of
//	                   that batch), one per index.interval.bytes. Written
//	                   append-only at its exact size: no pre-allocation, so the
//	                   file holds exactly its entries at all times.
//	%020d.timeindex    Kafka's time index: 12-byte entries (int64 max timestamp
//	                   so far, int32 relative offset of the batch holding it),
//	                   appended with the offset index when the timestamp grows,
//	                   and once more on roll and on close so that the last entry
//	                   is the segment's max timestamp.
//	%020d.txnindex     Kafka's transaction index, only for a segment holding
//	                   an ABORT marker: 34-byte entries (int16 version 0,
//	                   int64 producerId, int64 firstOffset, int64 lastOffset
//	                   = the marker's, int64 lastStableOffset), one per
//	                   aborted transaction in marker order (txn_index.go).
//	%020d.snapshot     producer state valid at that offset (samsa's format):
//	                   int16 version (101), uint32 CRC-32C of the rest, int32
//	                   count, then per producer: int64 id, int16 epoch, int64
//	                   last-append wall time (ms), int32 coordinatorEpoch,
//	                   int64 currentTxnFirstOffset (-1: no open transaction;
//	                   version 100 files lack both and still read), int8 n,
//	                   n x (int32 firstSeq,
//	                   int32 lastSeq, int64 firstOffset, int64 lastOffset, int64
//	                   maxTimestamp, int64 logAppendTime or -1). Written on roll
//	                   (at the new base offset) and on Close (at the log end
//	                   offset); the newest three are kept.
//	leader-epoch-checkpoint  Kafka's text format: "0", the count, then
//	                   "<epoch> <startOffset>" lines. Rewritten (temp file,
//	                   fsync, rename, directory fsync) on every change.
//	partition.metadata "version: 0\ntopic_id: <base64url, no padding>\n".
//	samsa-checkpoint   "0\nrecovery-point N\nhigh-watermark N\nlog-start-offset N\n";
//	                   what Kafka keeps in the data directory's
//	                   recovery-point-offset-checkpoint, replication-offset-
//	                   checkpoint and log-start-offset-checkpoint.
//	samsa-cleaner-checkpoint "0\nfirst-dirty N\ndelete-horizon N\n": where
//	                   the next cleaning's dirty section starts and the
//	                   earliest delete horizon of a kept tombstone (-1: none);
//	                   Kafka's cleaner-offset-checkpoint, per log. Written
//	                   after each cleaning (log_compaction.go).
//	%020d.{log,index,timeindex}.cleaned, .swap  a cleaning's new segment
//	                   before and after its commit point (log_compaction.go).
//	.samsa-clean-shutdown  written by Close after everything above is durable;
//	                   removed by Open.
//
// In the data directory itself, meta.properties (Kafka's version 1 layout:
// version, cluster.id, node.id, directory.id) ties the directory to one
// cluster and node; the broker refuses to start on a mismatch.
//
// Deleted segments are renamed to "*.deleted" and removed after
// file.delete.delay.ms (<0: at once). A deleted partition directory (only ever
// on a recorded topic deletion) is renamed to
// "<topic>-<partition>.<hex id>-delete" and removed after file.delete.delay.ms;
// one found at start-up is removed after the broker default of it. A
// directory the cluster does not know is set aside as
// "<topic>-<partition>.<hex id>-stray" (Manager.MarkStray) and never removed.
//
// With several log directories (NewManagerDirs, log_dirs.go) each holds
// whole partitions in this layout and its own meta.properties; a new
// partition goes to the online directory with the fewest; a directory that
// cannot be opened, or fails a probe write after one of its logs failed,
// goes offline alone (Manager.FailDir). Manager.MoveLog moves a log to
// another directory online through "<topic>-<partition>.<hex id>-future"
// and a samsa-moved marker (log_move.go has the protocol and its crash
// recovery).
//
// # Durability and recovery
//
// Appends are written with pwrite and are not fsynced unless flush.messages /
// flush.ms ask for it (Kafka's default): an acknowledged record survives a
// process kill because it is in the OS page cache, and survives a machine
// crash only once flushed. Flushing fsyncs the segments and indexes up to an
// offset and advances the recovery point; when a segment created since the
// last flush is among them, the partition directory is fsynced too, before
// the recovery point passes it (Kafka's flushDirIfExists). A rolled segment
// is flushed in the background right after the roll, so the recovery point
// normally trails the active segment's base offset. As in Kafka,
// flush.messages counts the records since the last flush (log end offset
// minus recovery point) and a batch that reaches it is fsynced before the
// append returns; flush.ms is checked every log.flush.scheduler.interval.ms
// (ManagerOptions.FlushCheckInterval), which by default is never.
//
// Open reads and checks everything first and writes only once it has
// decided that the log opens. Without the clean-shutdown marker it recovers
// every segment from the one holding the recovery point to the end, as
// Kafka's LogSegment.recover: each batch is checked (length sane, magic 2,
// CRC-32C, offsets increasing, within the segment's int32 range); the file
// is truncated at the first invalid or torn batch (the bytes cut are
// logged), both indexes are rebuilt from the scanned batches, every later
// segment is deleted, and the leader-epoch cache tail is rebuilt from the
// batches' partitionLeaderEpoch. The transaction index of every segment
// rebuilt is recomputed by the producer-state replay, which then starts
// from a snapshot at or below the first such segment so that the
// transactions open there are known. Recovered segments are fsynced and the
// recovery point becomes the log end offset. Segments below the recovery
// point (all of them after a clean shutdown) keep their indexes unless a
// sanity check fails — missing file, odd size, offsets or positions not
// increasing or out of range, a batch past index.interval.bytes without an
// entry, a max timestamp the time index lacks — in which case they are
// rebuilt the same way; their data was flushed, so an invalid batch there is
// no torn tail and the log does not open. Producer state is loaded from the
// newest snapshot at or below the log end offset and the batches after it
// are replayed; newer snapshots and corrupt ones of ours are removed.
// Leftover "*.deleted", "*.cleaned" and "*.tmp" files are removed, and so
// are index ".swap" files without their log's (a cleaning that stopped
// before its commit point); a "%020d.log.swap" is a cleaning past its
// commit point and is completed: the segments in its offset range are
// removed and it takes its segment's name, its indexes rebuilt (a swap file
// that does not read as valid batches keeps the log from opening). The
// clean-shutdown marker is removed too (with a directory fsync).
//
// A log that Open cannot open is offline, not gone: a file that does not
// open or read, an unparsable samsa-checkpoint, leader-epoch-checkpoint or
// partition.metadata, a producer snapshot that is not samsa's, or an invalid
// batch in flushed data or in the replay of producer state makes Open return
// an error wrapping ErrStorage that names the file and the cause, with
// nothing on disk changed. A later Open that can read it serves it again.
//
// After any write, fsync, roll, index, checkpoint or snapshot error — and
// any write-back error the page-cache trimmer is told of — the log is
// failed: it logs the error once, refuses every later write with it
// (wrapping ErrStorage; Log.Err), and calls Options.OnFailure once with no
// lock of the log held, for the broker to take the partition offline. Reads
// keep serving what was acknowledged; a batch whose write or flush failed is
// never published.
//
// # Followers
//
// A follower's log is written by AppendAsFollower with the leader's bytes:
// batches keep their base offsets and partitionLeaderEpoch, their CRCs are
// checked, and they must continue the log (offsets increasing, gaps allowed
// where a compacted leader's cleaner removed batches; a batch already present
// is skipped only when byte-identical), so a follower's segments are the
// leader's batch for batch until each replica's cleaner compacts its own
// copy. The leader-epoch cache follows the batches'
// epochs. After a leader change a follower truncates by leader epoch
// (TruncateTo the end of the last epoch it shares with the leader; an epoch
// entry it assigned as leader at its log end with no data after it is
// dropped even when no data is, as in Kafka), never to its high watermark;
// a follower whose whole log lies below the leader's log start starts over
// there (TruncateFullyAndStartAt), and its log start offset follows the
// leader's up to its own high watermark (MaybeIncrementLogStartOffset). A
// new leader records its epoch at its log end offset first
// (AssignEpochAtEnd).
//
// # Concurrency
//
// Appends and structural changes (roll, retention, truncation) hold Log.mu.
// Reads take no lock but truncMu for reading: they load the log end offset,
// the copy-on-write segment list and each segment's published size, and read
// with ReadAt, so they run beside appends; bytes are written before the size
// and the log end offset are published. truncMu is taken for writing only
// where bytes disappear or files close. Lock order:
// Log.mu -> Log.flushMu -> Log.truncMu -> leaderEpochCache.mu.
//
// ReadSlice is a read that returns where the batches are (a FileSlice)
// instead of copying them, for the broker to send with sendfile. It pins the
// segment's log file under truncMu; closing a segment (retention, Close,
// truncation) closes its indexes at once but its log file only when the last
// pin is released, so a pending send never uses a closed (or reused) file
// descriptor. A renamed or unlinked file stays readable through the pin.
//
// With a hot window (Options.CacheHotBytes, cache.go) a trimmer goroutine per
// Manager starts writeback of new data and drops clean pages older than the
// window from the page cache (and, with a broker-wide window, those that the
// logs written since have pushed out); it holds Log.trimMu, then truncMu for
// reading, and never Log.mu, so appends do not wait for it. Its
// sync_file_range and fadvise calls go through an open file description of
// their own (PageCacheFile), so that the write-back errors Linux reports once
// per description still reach the log's fsync.
//
// Retention by time and size applies when cleanup.policy includes delete.
//
// # Transactions
//
// Transactional batches open their producer's transaction; a control
// batch (AppendTxnMarker, or a follower's copy of the leader's) closes it.
// The producer state tracks each open transaction's first offset and,
// until the high watermark passes their marker, the closed ones;
// LastStableOffset is the first of those offsets, never above the high
// watermark (read_committed reads up to it). An ABORT marker appends the
// aborted transaction to its segment's .txnindex, which
// AbortedTransactions reads; the index goes with its segment (retention,
// truncation, compaction, moves).
//
// # Compaction
//
// With cleanup.policy=compact the Manager's cleaner threads (cleaner.go)
// rewrite the segments below the first uncleanable one (active, above the
// high watermark, or newer than min.compaction.lag.ms) keeping the latest
// record per key, offsets unchanged (log_compaction.go has the algorithm
// and the crash-safe swap). A cleaning holds no lock while it reads and
// writes; it takes Log.mu to swap each group of segments in. While it runs,
// retention and DeleteRecords leave segment deletion to the next retention
// pass, and truncation and Close stop it and wait (pauseCleaning).
package storage
