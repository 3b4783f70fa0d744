package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
)

// FileSlice is a range of whole batches in one segment's log file, pinned
// open until Release, for a caller that sends it without copying it into
// memory (sendfile). The bytes are the ones ReadInto would return for the
// same arguments; they stay valid as long as nothing below the high
// watermark is truncated, which the log never does for a range it served to
// a consumer.
type FileSlice struct {
	seg *segment
	Pos int64 // position of the first batch in the file
	Len int64 // bytes, whole batches

	cold  bool   // read from below the hot window: read it with ReadCold
	next  int64  // base offset of the batch at Pos+Len when known, else -1
	gen   uint64 // the segment's truncation count when the slice was found
	limit int64  // the maxBytes it was found with
}

// File is the pinned log file (an *os.File in production; the FS seam's
// File in tests).
func (f FileSlice) File() File { return f.seg.log }

// Release unpins the file. Call it exactly once, after the send.
func (f FileSlice) Release() {
	if f.seg != nil {
		f.seg.unpin()
	}
}

// NextOffset is the base offset of the batch right after the slice when
// the read found it (the upper bound of what the slice holds, for a
// read_committed fetch's aborted transactions), else -1.
func (f FileSlice) NextOffset() int64 { return f.next }

// ReadAt reads the slice's bytes at off (relative to Pos) into p, for
// callers that cannot send from the file.
func (f FileSlice) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= f.Len {
		return 0, io.EOF
	}
	if rem := f.Len - off; int64(len(p)) > rem {
		p = p[:rem]
	}
	return f.seg.log.ReadAt(p, f.Pos+off)
}

// ReadSlice is Read without the copy: it picks the same batches and
// returns where they are in the file, pinned. The slice is empty (Len 0,
// nothing to release) when there is nothing to read. Batches are never
// taken from more than one segment.
func (l *Log) ReadSlice(offset int64, maxBytes int32, upTo int64, minOneBatch bool) (FileSlice, error) {
	fs, _, err := l.readSlice(offset, maxBytes, upTo, minOneBatch)
	return fs, err
}

// readSlice is ReadSlice with the log's offsets at the time of the read.
func (l *Log) readSlice(offset int64, maxBytes int32, upTo int64, minOneBatch bool) (FileSlice, ReadResult, error) {
	leo := l.leo.Load()
	res := ReadResult{HighWatermark: l.hw.Load(), LogStartOffset: l.logStart.Load(), LogEndOffset: leo}
	if l.closed.Load() {
		return FileSlice{}, res, ErrClosed
	}
	if offset < res.LogStartOffset || offset > leo {
		return FileSlice{}, res, fmt.Errorf("storage: read offset %d outside [%d, %d]: %w",
			offset, res.LogStartOffset, leo, ErrOffsetOutOfRange)
	}
	if upTo < 0 || upTo > leo {
		upTo = leo
	}
	if offset >= upTo {
		return FileSlice{}, res, nil
	}
	l.truncMu.RLock()
	defer l.truncMu.RUnlock()
	if l.filesClosed.Load() {
		return FileSlice{}, res, ErrClosed
	}
	segs := l.segments()
	if start := l.logStart.Load(); offset < start || offset < segs[0].base {
		res.LogStartOffset = start
		return FileSlice{}, res, fmt.Errorf("storage: read offset %d below log start %d: %w", offset, start, ErrOffsetOutOfRange)
	}
	i := sort.Search(len(segs), func(i int) bool { return segs[i].base > offset }) - 1
	for ; i < len(segs) && segs[i].base < upTo; i++ {
		s := segs[i]
		pos, n, next, found, err := s.slice(offset, maxBytes, upTo, minOneBatch)
		if err != nil {
			return FileSlice{}, res, fmt.Errorf("storage: read offset %d: %w", offset, err)
		}
		if found {
			if n == 0 {
				return FileSlice{}, res, nil
			}
			s.pin() // under truncMu: close cannot have run on a listed segment
			return FileSlice{seg: s, Pos: pos, Len: n, cold: s.cold(pos, n), next: next, gen: s.aheadGen.Load(), limit: int64(max(maxBytes, 0))}, res, nil
		}
	}
	return FileSlice{}, res, nil
}

// slice finds the batches a read returns, as (position, length), without
// reading their bodies: the first batch is located through the index, then the
// offset index jumps over whole batches that fit, and batch headers
// (base offset and length, 12 bytes each) are read for the rest. next is
// the base offset of the batch after the slice when its header was read, else
// -1.
func (s *segment) slice(offset int64, maxBytes int32, upTo int64, minOneBatch bool) (pos, n, next int64, found bool, err error) {
	size := s.size.Load()
	first, start, found, err := s.findBatch(offset, size)
	if err != nil || !found {
		return 0, 0, -1, found, err
	}
	if first.BaseOffset >= upTo {
		return 0, 0, -1, true, nil
	}
	want := min(size-start, int64(max(maxBytes, 0)))
	if first.Size() > want {
		if !minOneBatch {
			return 0, 0, -1, true, nil
		}
		return start, first.Size(), -1, true, nil
	}
	limit := start + want // exclusive bound of the bytes to return
	end := start + first.Size()
	// Every batch before an index entry's position ends there; when the
	// entry's batch ends below upTo, so do all batches before it.
	es := s.oi.entries.view()
	j := sort.Search(len(es), func(j int) bool { return int64(es[j].pos) > limit }) - 1
	for ; j >= 0 && int64(es[j].pos) > end; j-- {
		if s.base+int64(es[j].rel) < upTo {
			end = int64(es[j].pos)
			break
		}
	}
	// A pooled buffer: an array here would escape through the File
	// interface and cost an allocation per read on the fetch path.
	sc := getScanner(nil, 0, 0)
	defer putScanner(sc)
	hdr := sc.buf[:logOverhead]
	mr := (*metaReader)(s)
	next = -1
	for end+logOverhead <= size {
		if _, err := mr.ReadAt(hdr, end); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return 0, 0, -1, true, err
		}
		base := int64(binary.BigEndian.Uint64(hdr[0:]))
		bsize := int64(int32(binary.BigEndian.Uint32(hdr[8:]))) + logOverhead
		if base >= upTo || bsize < batchHeaderSize || end+bsize > limit || end+bsize > size {
			if bsize >= batchHeaderSize && end+bsize <= size {
				next = base // a whole batch: the next read starts here
			}
			break
		}
		end += bsize
	}
	return start, end - start, next, true, nil
}
