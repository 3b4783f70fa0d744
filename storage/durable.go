package storage

// Durable mode: acknowledgements wait for fsync, and appends share fsyncs.
//
// flush.messages=1 fsyncs each batch inside Append, holding Log.mu: every
// producer of the partition waits for every other's fsync, one at a time.
// In durable mode Append only writes; whoever needs an offset durable calls
// SyncTo, which fsyncs everything appended so far (flushUpTo, with no lock
// of the append path held) or, when an fsync is already running, waits for
// it and then for the next one, which covers every batch appended in the
// meantime: a group commit. However many producers append, the log runs
// one fsync after another, each for all the batches that arrived during
// the previous one. The high watermark never passes the recovery point
// (SetHighWatermark), so consumers and acks=all see only fsynced records,
// and a follower fsyncs each fetch response before its next fetch reports
// its log end offset to the leader.

import "context"

// SyncTo returns once every record below offset is fsynced (the recovery
// point has passed it), fsyncing what the log holds when no fsync is
// running. It returns the log's sticky error when an fsync fails (the log
// is then failed: the records are not acknowledged), ErrClosed when the
// log closes first, or ctx's error.
func (l *Log) SyncTo(ctx context.Context, offset int64) error {
	defer l.notifyFailure()
	for {
		if l.recoveryPoint.Load() >= offset {
			return nil
		}
		if err := l.writable(); err != nil {
			return err
		}
		l.syncMu.Lock()
		if l.syncing {
			done := l.syncDone
			l.syncMu.Unlock()
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		l.syncing = true
		l.syncDone = make(chan struct{})
		l.syncMu.Unlock()
		// Everything appended so far: the log end offset is published
		// after the bytes are written.
		err := l.flush(l.leo.Load(), false, true)
		l.syncMu.Lock()
		l.syncing = false
		close(l.syncDone)
		l.syncMu.Unlock()
		if err != nil {
			return err
		}
	}
}

// Durable reports whether the log is in durable mode.
func (l *Log) Durable() bool { return l.durable }

// RecoveryPoint is the offset below which everything is fsynced.
func (l *Log) RecoveryPoint() int64 { return l.recoveryPoint.Load() }
