package storage

// Moving a partition's log between log directories online
// (AlterReplicaLogDirs), crash-safe, the source kept until the copy is
// durable and in place:
//
//  1. While the log serves, the closed segments are copied into
//     "<dest>/<topic>-<partition>.<id>-future" (Kafka's future-log name).
//  2. Appends and structural changes stop (Log.mu, cleaning paused): the
//     log is flushed, a producer snapshot written, the files that changed
//     or are new since step 1 copied, every copy and the directory fsynced,
//     and a marker (samsa-moved) written in the copy.
//  3. The copy is renamed to "<dest>/<topic>-<partition>" and dest fsynced:
//     from here the copy is the log. The Log switches to it in place (its
//     segments are reopened from the copy; readers keep the ones they hold).
//  4. The source is renamed to "-delete" (removed after file.delete.delay.ms)
//     and the marker removed.
//
// After a crash: a "-future" directory is an unfinished copy (the source is
// whole): it is removed. A partition found in two directories of which one
// holds the marker crashed between 3 and 4: the marked one is the log, the
// other is set aside as "-delete". A marker without a twin is removed.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

const (
	futureDirSuffix = "-future"
	// movedMarkerFile in a partition directory says it is the complete copy
	// of a move whose source may still exist.
	movedMarkerFile = "samsa-moved"
)

// ErrMoveInProgress: the partition's log is being moved already.
var ErrMoveInProgress = errors.New("storage: log move in progress")

// ErrNotLogDir: a move names a directory that is not one of the log
// directories.
var ErrNotLogDir = errors.New("storage: not a log directory")

// MoveState is a move in progress (DescribeLogDirs' future replica).
type MoveState struct {
	Dest        string // the destination log directory
	CopiedBytes int64
	// CopiedEnd is the log end offset of what was copied so far.
	CopiedEnd int64
}

// Moves lists the moves in progress.
func (m *Manager) Moves() map[TopicPartition]MoveState {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[TopicPartition]MoveState, len(m.moves))
	for tp, st := range m.moves {
		out[tp] = *st
	}
	return out
}

// LogDirOf is the log directory holding tp's log, "" when none does.
func (m *Manager) LogDirOf(topic string, partition int32) string {
	if d := m.dirOf(TopicPartition{topic, partition}); d != nil {
		return d.path
	}
	return ""
}

// MoveLog moves the open log of tp to the log directory dest (one of the
// Manager's, online), as described above. It returns once the move is done
// (nil also when the log is in dest already); on an error before the
// switch the log stays where it was, untouched, and the partial copy is
// removed.
func (m *Manager) MoveLog(topic string, partition int32, dest string) error {
	job, err := m.beginMove(topic, partition, dest)
	if err != nil || job == nil {
		return err
	}
	return m.runMove(job)
}

// StartMove is MoveLog in the background: it returns once the move is
// checked and registered (Moves lists it); the outcome is logged. A
// Manager closed meanwhile stops a move before its switch, keeping the
// log where it was.
func (m *Manager) StartMove(topic string, partition int32, dest string) error {
	job, err := m.beginMove(topic, partition, dest)
	if err != nil || job == nil {
		return err
	}
	m.mu.Lock()
	if m.closed {
		delete(m.moves, job.tp)
		m.mu.Unlock()
		return ErrClosed
	}
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		if err := m.runMove(job); err != nil {
			m.logger.Error().Err(err).Str("topic", topic).Int32("partition", partition).Str("to", job.dd.path).
				Msg("log move failed; the log stays where it was")
		}
	}()
	return nil
}

// moveJob is a move checked and registered by beginMove.
type moveJob struct {
	tp      TopicPartition
	l       *Log
	src, dd *logDir
	st      *MoveState
}

// beginMove checks a move and registers it; nil, nil when the log is in
// dest already.
func (m *Manager) beginMove(topic string, partition int32, dest string) (*moveJob, error) {
	tp := TopicPartition{topic, partition}
	dest = filepath.Clean(dest)
	m.mu.Lock()
	var dd *logDir
	for _, d := range m.dirs {
		if d.path == dest {
			dd = d
		}
	}
	l := m.logs[tp]
	src := m.dirOfLocked(tp)
	switch {
	case dd == nil:
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: move %s-%d: %s", ErrNotLogDir, topic, partition, dest)
	case dd.offline != nil:
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: move %s-%d: %w", ErrStorage, topic, partition, dd.offline)
	case l == nil || src == nil:
		m.mu.Unlock()
		return nil, fmt.Errorf("storage: move %s-%d: the log is not open", topic, partition)
	case m.moves[tp] != nil:
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: %s-%d", ErrMoveInProgress, topic, partition)
	case src == dd:
		m.mu.Unlock()
		return nil, nil
	}
	st := &MoveState{Dest: dest}
	if m.moves == nil {
		m.moves = map[TopicPartition]*MoveState{}
	}
	m.moves[tp] = st
	m.mu.Unlock()
	return &moveJob{tp: tp, l: l, src: src, dd: dd, st: st}, nil
}

// runMove runs a registered move.
func (m *Manager) runMove(job *moveJob) error {
	tp, l, src, dd, st := job.tp, job.l, job.src, job.dd, job.st
	topic, partition, dest := tp.Topic, tp.Partition, dd.path
	defer func() {
		m.mu.Lock()
		delete(m.moves, tp)
		m.mu.Unlock()
	}()

	var id [8]byte
	_, _ = rand.Read(id[:])
	final := PartitionDir(dest, topic, partition)
	future := final + "." + hex.EncodeToString(id[:]) + futureDirSuffix
	if _, err := m.fs.Stat(final); err == nil {
		return fmt.Errorf("storage: move %s-%d: %s exists already", topic, partition, final)
	}
	if err := m.fs.MkdirAll(future, 0o755); err != nil {
		return fmt.Errorf("storage: move %s-%d: %w", topic, partition, err)
	}
	progress := func(n, end int64) {
		m.mu.Lock()
		st.CopiedBytes += n
		st.CopiedEnd = max(st.CopiedEnd, end)
		m.mu.Unlock()
	}
	var aside string
	switched, err := l.moveTo(future, final, &aside, progress, m.stop, m.killMove)
	if !switched {
		if rerr := m.fs.RemoveAll(future); rerr != nil {
			m.logger.Warn().Err(rerr).Str("dir", future).Msg("removing the copy of a failed log move")
		}
		return fmt.Errorf("storage: move %s-%d to %s: %w", topic, partition, dest, err)
	}
	m.mu.Lock()
	delete(src.holds, tp)
	dd.holds[tp] = true
	m.mu.Unlock()
	if aside != "" {
		m.removeAfter(aside, m.opts.FileDeleteDelay)
	}
	if err != nil {
		// Switched, but the source could not be set aside: it is kept
		// (the marker resolves the twin at the next start).
		m.logger.Error().Err(err).Str("topic", topic).Int32("partition", partition).
			Msg("log moved, but its old directory could not be set aside; it is kept")
		return nil
	}
	m.logger.Info().Str("topic", topic).Int32("partition", partition).Str("from", src.path).Str("to", dest).
		Msg("partition log moved to another log directory")
	return nil
}

// killMove, in tests, is called at each step of a move; an error stops it
// there as a crash would, leaving every file as it is.
func (m *Manager) killMove(step string) error {
	if f := m.opts.moveKill; f != nil {
		return f(step)
	}
	return nil
}

// errMoveKilled stops a move at a test's kill point.
var errMoveKilled = errors.New("storage: log move killed (test)")

// moveTo copies the log into future, renames the copy to final and
// switches the log to it (steps 1-4 above). switched reports whether the
// log now lives in final; err after a switch is about setting the source
// aside; *aside is the source's "-delete" name once renamed.
func (l *Log) moveTo(future, final string, aside *string, progress func(n, end int64), stop <-chan struct{}, kill func(string) error) (switched bool, err error) {
	defer l.notifyFailure()
	// 1. The closed segments, while serving.
	type copied struct {
		seg  *segment
		size int64
	}
	done := map[string]copied{}
	l.mu.Lock()
	segs := l.segments()
	gen := l.rewrites
	l.mu.Unlock()
	for _, s := range segs[:len(segs)-1] {
		select {
		case <-stop:
			return false, ErrClosed
		default:
		}
		size := s.size.Load()
		for i, p := range s.paths() {
			n := int64(-1) // whole file
			if i == 0 {
				n = size
			}
			w, err := copyFile(l.fs, p, filepath.Join(future, filepath.Base(p)), n)
			if errors.Is(err, os.ErrNotExist) {
				break // retired or cleaned meanwhile: step 2 copies what is there
			}
			if err != nil {
				return false, err
			}
			done[filepath.Base(p)] = copied{s, size}
			progress(w, 0)
		}
		progress(0, segNext(segs, s))
	}
	if err := kill("closed segments copied"); err != nil {
		return false, err
	}

	// 2. The rest, with appends stopped.
	defer l.pauseCleaning()()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return false, err
	}
	l.bg.Wait()
	src := l.dir
	act := l.active()
	if err := act.ti.maybeAppend(act.maxTs, act.maxTsOffset, true); err != nil {
		if isNoSpace(err) {
			return false, l.noSpace("time index", err)
		}
		return false, l.fail("time index", err)
	}
	leo := l.leo.Load()
	if err := l.flushUpTo(leo, true); err != nil {
		return false, err
	}
	if err := writeProducerSnapshot(l.fs, l.dir, leo, l.producers.encode()); err != nil {
		if isNoSpace(err) {
			return false, l.noSpace("producer snapshot", err)
		}
		return false, l.fail("producer snapshot", err)
	}
	segs = l.segments()
	live := map[*segment]bool{}
	for _, s := range segs[:len(segs)-1] {
		live[s] = true
	}
	logSize := map[string]int64{}
	for _, s := range segs {
		logSize[filepath.Base(s.paths()[0])] = s.size.Load()
	}
	ents, err := l.fs.ReadDir(src)
	if err != nil {
		return false, err
	}
	want := map[string]bool{}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || strings.HasSuffix(name, deletedSuffix) || strings.HasSuffix(name, cleanedSuffix) ||
			strings.HasSuffix(name, swapSuffix) || name == dirProbeFile || name == cleanShutdownFile || strings.HasSuffix(name, tmpSuffix) {
			continue
		}
		want[name] = true
		if c, ok := done[name]; ok && gen == l.rewrites && live[c.seg] && c.seg.size.Load() == c.size {
			continue // a closed segment's file, unchanged since step 1
		}
		n := int64(-1)
		if sz, ok := logSize[name]; ok {
			n = sz // never a preallocated tail
		}
		w, err := copyFile(l.fs, filepath.Join(src, name), filepath.Join(future, name), n)
		if err != nil {
			return false, err
		}
		progress(w, 0)
	}
	if fents, err := l.fs.ReadDir(future); err == nil {
		for _, e := range fents {
			if !want[e.Name()] {
				_ = l.fs.Remove(filepath.Join(future, e.Name()))
			}
		}
	}
	if err := writeFileAtomic(l.fs, filepath.Join(future, movedMarkerFile), []byte(src+"\n")); err != nil {
		return false, err
	}
	progress(0, leo)
	if err := kill("copy complete"); err != nil {
		return false, err
	}

	// 3. The copy becomes the log.
	if err := l.fs.Rename(future, final); err != nil {
		return false, err
	}
	if err := syncDir(l.fs, filepath.Dir(final)); err != nil {
		_ = l.fs.Rename(final, future)
		return false, err
	}
	if err := kill("copy in place"); err != nil {
		return false, err // as after a crash: both directories exist
	}
	next := make([]*segment, 0, len(segs))
	undo := func(err error) (bool, error) {
		for _, s := range next {
			s.close()
		}
		if rerr := l.fs.Rename(final, future); rerr != nil {
			// The marker makes the copy win at the next start; the
			// source is whole either way.
			return false, fmt.Errorf("%w (and renaming the copy back failed: %v)", err, rerr)
		}
		_ = syncDir(l.fs, filepath.Dir(final))
		return false, err
	}
	for _, s := range segs {
		ns, err := openSegment(l.fs, final, s.base, &l.cfg, false)
		if err == nil {
			next = append(next, ns)
			err = l.loadSegment(ns)
		}
		if err == nil && (ns.next != s.next || ns.size.Load() != s.size.Load()) {
			err = fmt.Errorf("copy of segment %d ends at %d (%d bytes), the log's at %d (%d bytes)",
				s.base, ns.next, ns.size.Load(), s.next, s.size.Load())
		}
		if err != nil {
			return undo(fmt.Errorf("open the copy of segment %d: %w", s.base, err))
		}
		ns.rollTime, ns.rollJitterMs = s.rollTime, s.rollJitterMs
	}
	l.flushMu.Lock()
	l.truncMu.Lock()
	l.segs.Store(&next)
	l.dir = final
	l.dirName.Store(&final)
	l.epochs.mu.Lock()
	l.epochs.dir = final
	l.epochs.mu.Unlock()
	l.truncMu.Unlock()
	l.flushMu.Unlock()
	for _, s := range segs {
		s.close() // a pinned log file closes with its last reader
	}

	// 4. The source goes.
	if err := kill("switched"); err != nil {
		return true, err
	}
	dst := deleteDirName(src)
	if err := l.fs.Rename(src, dst); err != nil {
		return true, err
	}
	*aside = dst
	if err := syncDir(l.fs, filepath.Dir(src)); err != nil {
		return true, err
	}
	if err := l.fs.Remove(filepath.Join(final, movedMarkerFile)); err != nil {
		return true, err
	}
	return true, syncDir(l.fs, final)
}

// copyFile copies the first n bytes of src (all with n < 0) to dst,
// created or truncated, and fsyncs dst.
func copyFile(fsys FS, src, dst string, n int64) (int64, error) {
	in, err := fsys.OpenFile(src, os.O_RDONLY, 0)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	if n < 0 {
		st, err := in.Stat()
		if err != nil {
			return 0, err
		}
		n = st.Size()
	}
	out, err := fsys.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, err
	}
	w, err := io.Copy(out, io.NewSectionReader(in, 0, n))
	if err == nil && w != n {
		err = io.ErrUnexpectedEOF
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return w, err
}

// resolveMoves finishes, at start-up, what crashed moves left (see the
// top of the file). Called once every directory was listed.
func (m *Manager) resolveMoves() {
	m.mu.Lock()
	dirs := append([]*logDir(nil), m.dirs...)
	m.mu.Unlock()
	for _, d := range dirs {
		if d.offline != nil {
			continue
		}
		for _, name := range d.futures {
			dir := filepath.Join(d.path, name)
			m.logger.Warn().Str("dir", dir).Msg("unfinished copy of a log move (its source is whole): removed")
			m.removeAfter(dir, 0)
		}
		for tp := range d.holds {
			marker := filepath.Join(PartitionDir(d.path, tp.Topic, tp.Partition), movedMarkerFile)
			if !exists(m.fs, marker) {
				continue
			}
			for _, o := range dirs {
				if o == d || o.offline != nil || !o.holds[tp] {
					continue
				}
				srcDir := PartitionDir(o.path, tp.Topic, tp.Partition)
				dst := deleteDirName(srcDir)
				if err := m.fs.Rename(srcDir, dst); err != nil {
					m.logger.Error().Err(err).Str("dir", srcDir).Msg("cannot set aside the source of a finished log move; both copies kept")
					continue
				}
				_ = syncDir(m.fs, o.path)
				m.mu.Lock()
				delete(o.holds, tp)
				m.mu.Unlock()
				m.logger.Warn().Str("dir", srcDir).Str("moved_to", d.path).
					Msg("source of a finished log move set aside for deletion (the move had copied everything)")
				m.removeAfter(dst, m.opts.FileDeleteDelay)
			}
			m.mu.Lock()
			twins := 0
			for _, o := range dirs {
				if o.offline == nil && o.holds[tp] {
					twins++
				}
			}
			m.mu.Unlock()
			if twins == 1 {
				_ = m.fs.Remove(marker)
			}
		}
	}
}
