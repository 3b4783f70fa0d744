package storage

// Several log directories (Kafka's JBOD, log.dirs with more than one
// entry). Each directory holds whole partitions, in the same layout as a
// single data directory; a partition lives in exactly one of them. A new
// partition goes to the online directory that holds the fewest partitions
// (Kafka's LogManager.nextLogDirs). A directory that cannot be opened at
// start-up, or whose log failed a write and which then fails a probe
// write, goes offline alone: its logs fail (KAFKA_STORAGE_ERROR, offline as
// any failed log) and no partition is created while it might hold it; the
// others keep serving.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ErrLogDirOffline is wrapped (with ErrStorage) by every error about a
// partition whose log directory is offline, or might hold it.
var ErrLogDirOffline = errors.New("storage: log directory offline")

// logDir is one log directory. path is immutable; the rest is guarded by
// Manager.mu.
type logDir struct {
	path string
	// offline is why the directory is offline, nil while it serves.
	offline error
	// listed: the directory's partitions were listed (at start-up), so
	// holds knows every partition it may hold even once offline.
	listed bool
	holds  map[TopicPartition]bool
	// futures are the unfinished copies of log moves found at start-up
	// (log_move.go).
	futures []string
}

// LogDirInfo describes a log directory (DescribeLogDirs).
type LogDirInfo struct {
	Path string
	// Err is why the directory is offline (wraps ErrLogDirOffline), nil
	// while it serves.
	Err error
}

// Dirs lists the log directories in configuration order.
func (m *Manager) Dirs() []LogDirInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]LogDirInfo, len(m.dirs))
	for i, d := range m.dirs {
		out[i] = LogDirInfo{Path: d.path, Err: d.offline}
	}
	return out
}

// openDir lists a log directory at start-up: it is created if missing,
// directories left by an interrupted Delete are removed in the
// background, and the partitions it holds are noted.
func (m *Manager) openDir(d *logDir) error {
	if err := m.fs.MkdirAll(d.path, 0o755); err != nil {
		return fmt.Errorf("storage: data dir %s: %w", d.path, err)
	}
	ents, err := m.fs.ReadDir(d.path)
	if err != nil {
		return fmt.Errorf("storage: data dir %s: %w", d.path, err)
	}
	var strays []string
	for _, e := range ents {
		switch {
		case !e.IsDir():
		case isDeleteDir(e.Name()):
			// A deletion recorded before the last stop: it finishes
			// after the delay, as Kafka's LogManager does.
			m.removeAfter(filepath.Join(d.path, e.Name()), m.opts.FileDeleteDelay)
		case isStrayDir(e.Name()):
			strays = append(strays, e.Name())
		case strings.HasSuffix(e.Name(), futureDirSuffix):
			d.futures = append(d.futures, e.Name())
		default:
			if tp, ok := parsePartitionDir(e.Name()); ok {
				d.holds[tp] = true
			}
		}
	}
	d.listed = true
	if len(strays) > 0 {
		m.logger.Warn().Strs("dirs", strays).Str("data_dir", d.path).
			Msg("stray partition directories are kept (their topic ids were unknown to the cluster); move or remove them by hand once they are not needed")
	}
	return nil
}

func isDeleteDir(name string) bool {
	return len(name) > len(deleteDirSuffix) && name[len(name)-len(deleteDirSuffix):] == deleteDirSuffix
}

func isStrayDir(name string) bool {
	return len(name) > len(strayDirSuffix) && name[len(name)-len(strayDirSuffix):] == strayDirSuffix
}

// placeLocked returns the directory of tp's log: the online directory
// holding it, else (create) the online one holding the fewest partitions.
// A partition found in two directories, or possibly held by an offline
// one, is refused: opening or creating either copy could hide data.
func (m *Manager) placeLocked(tp TopicPartition) (*logDir, error) {
	var found []*logDir
	for _, d := range m.dirs {
		if d.offline == nil && d.holds[tp] {
			found = append(found, d)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	if len(found) > 1 {
		paths := make([]string, len(found))
		for i, d := range found {
			paths[i] = d.path
		}
		return nil, fmt.Errorf("%w: %s-%d has a directory in each of %v; samsa opens neither: keep the right one and move the other aside by hand",
			ErrStorage, tp.Topic, tp.Partition, paths)
	}
	var online []*logDir
	for _, d := range m.dirs {
		if d.offline != nil {
			if !d.listed || d.holds[tp] {
				return nil, fmt.Errorf("%w: %w: %s may hold %s-%d (%v); the partition is offline until it is back",
					ErrStorage, ErrLogDirOffline, d.path, tp.Topic, tp.Partition, d.offline)
			}
			continue
		}
		online = append(online, d)
	}
	if len(online) == 0 {
		return nil, fmt.Errorf("%w: %w: every log directory is offline", ErrStorage, ErrLogDirOffline)
	}
	// Fewest partitions first; ties in configuration order.
	best := slices.MinFunc(online, func(a, b *logDir) int { return len(a.holds) - len(b.holds) })
	return best, nil
}

// notice looks for tp's directory in every online log directory and
// notes those that hold it (one made after start-up by someone else).
func (m *Manager) notice(tp TopicPartition) {
	for _, d := range m.onlineDirs() {
		if _, err := m.fs.Stat(PartitionDir(d.path, tp.Topic, tp.Partition)); err == nil {
			m.mu.Lock()
			d.holds[tp] = true
			m.mu.Unlock()
		}
	}
}

// dirOfLocked is the online directory holding tp, nil when none does.
func (m *Manager) dirOfLocked(tp TopicPartition) *logDir {
	for _, d := range m.dirs {
		if d.offline == nil && d.holds[tp] {
			return d
		}
	}
	return nil
}

// dirOf is dirOfLocked for callers without mu.
func (m *Manager) dirOf(tp TopicPartition) *logDir {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dirOfLocked(tp)
}

// dirOnline reports whether the log directory at path serves.
func (m *Manager) dirOnline(path string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range m.dirs {
		if d.path == path {
			return d.offline == nil
		}
	}
	return false
}

// onlineDirs are the directories that serve, in configuration order.
func (m *Manager) onlineDirs() []*logDir {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*logDir
	for _, d := range m.dirs {
		if d.offline == nil {
			out = append(out, d)
		}
	}
	return out
}

// dirProbeFile is written, synced and removed to learn whether a log
// directory still takes writes after one of its logs failed.
const dirProbeFile = ".samsa-dir-probe"

// probeDir reports whether dir takes a write.
func (m *Manager) probeDir(dir string) error {
	path := filepath.Join(dir, dirProbeFile)
	f, err := m.fs.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteAt([]byte("probe\n"), 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := m.fs.Remove(path); err == nil {
		err = rerr
	}
	return err
}

// logFailed runs (off every lock) when tp's log failed: when its
// directory fails a probe write too, the whole directory goes offline.
func (m *Manager) logFailed(tp TopicPartition, dir string, err error) {
	if m.dirOnline(dir) {
		if perr := m.probeDir(dir); perr != nil {
			m.FailDir(dir, fmt.Errorf("a log failed (%v) and a probe write failed: %w", err, perr))
		}
	}
	if f := m.opts.OnLogFailure; f != nil {
		f(tp, err)
	}
}

// FailDir takes the log directory at path offline: each of its open logs
// fails with an error wrapping ErrLogDirOffline (and ErrStorage), reported
// through OnLogFailure; its files are kept. Other directories keep
// serving. Unknown paths and directories already offline are ignored.
func (m *Manager) FailDir(path string, cause error) {
	path = filepath.Clean(path)
	m.mu.Lock()
	var d *logDir
	for _, x := range m.dirs {
		if x.path == path {
			d = x
		}
	}
	if d == nil || d.offline != nil {
		m.mu.Unlock()
		return
	}
	d.offline = fmt.Errorf("%w: %s: %w", ErrLogDirOffline, path, cause)
	var failed []*Log
	for tp, l := range m.logs {
		if d.holds[tp] && filepath.Dir(l.Dir()) == path {
			failed = append(failed, l)
		}
	}
	m.mu.Unlock()
	m.logger.Error().Err(cause).Str("log_dir", path).Int("open_logs", len(failed)).
		Msg("log directory offline: its partitions are offline on this broker, their files are kept; the other directories keep serving")
	for _, l := range failed {
		l.fail("log directory", d.offline)
		l.notifyFailure()
	}
}
