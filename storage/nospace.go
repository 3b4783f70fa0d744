package storage

// A full file system (ENOSPC) is not a failed disk.
//
// Any other write error fails the log (its error is sticky and the
// partition goes offline: doc.go), because what reached the disk is then
// unknown. A write that finds no space is different: nothing is wrong with
// what is there, and space comes back (retention, an operator). So an
// append that gets ENOSPC — writing the batch, an index entry, the new
// files of a roll, the leader-epoch checkpoint — is cut back to where the
// log was (the file truncated to its published size, the index entries and
// files of the attempt removed, the epoch entry undone), nothing of it is
// published, and it returns ErrNoSpace; the log stays writable, readers
// keep reading, and the next append tries again. Should cutting back fail
// too, the log fails as for any other error. fsync errors always fail the
// log, ENOSPC included (after a failed fsync the kernel may have dropped
// the dirty pages: what is on disk is unknown). Producer snapshots and
// checkpoints that find no space are logged and skipped: the log recovers
// without them.

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrNoSpace: the file system is full. The write was cut back, nothing of
// it is visible, and the log did not fail: a later write tries again.
// The broker answers KAFKA_STORAGE_ERROR (retriable).
var ErrNoSpace = errors.New("storage: no space left on device")

// isNoSpace reports an ENOSPC (or a quota's EDQUOT) anywhere in err.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// noSpace is the error of a write cut back for lack of space.
func (l *Log) noSpace(op string, err error) error {
	l.logger.Warn().Err(err).Str("op", op).Msg("no space left on the log's file system: the write was refused and nothing of it kept; later writes try again")
	return fmt.Errorf("%w: %s: %w", ErrNoSpace, op, err)
}

// cutBack undoes a batch appendBatch wrote in part or whole at pos, with
// the offset and time index holding oiN and tiN entries before it: the log
// file back to pos, the index entries and their bytes removed. Readers
// never looked past the published size, nor at the new entries (they
// point past it); truncMu keeps them off the entry lists anyway.
func (l *Log) cutBack(s *segment, pos int64, oiN, tiN int64) error {
	l.truncMu.Lock()
	defer l.truncMu.Unlock()
	if err := s.log.Truncate(pos); err != nil {
		return err
	}
	if s.oi.entries.n.Load() > oiN {
		s.oi.entries.truncate(int(oiN))
	}
	if err := s.oi.f.Truncate(oiN * offsetEntrySize); err != nil {
		return err
	}
	if s.ti.entries.n.Load() > tiN {
		s.ti.entries.truncate(int(tiN))
	}
	return s.ti.f.Truncate(tiN * timeEntrySize)
}

// appendOrCutBack is seg.appendBatch that, when the file system is full,
// cuts the attempt back and returns ErrNoSpace (any other error, or one
// cutting back, is returned as it is for the caller to fail the log).
func (l *Log) appendOrCutBack(seg *segment, b []byte, h *batchInfo, interval int64) error {
	pos := seg.size.Load()
	oiN, tiN := seg.oi.entries.n.Load(), seg.ti.entries.n.Load()
	err := seg.appendBatch(b, h, interval)
	if err == nil || !isNoSpace(err) {
		return err
	}
	if cerr := l.cutBack(seg, pos, oiN, tiN); cerr != nil {
		return fmt.Errorf("%w; cutting the write back: %w", err, cerr)
	}
	return l.noSpace("append", err)
}
