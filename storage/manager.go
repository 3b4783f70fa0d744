package storage

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Manager owns every partition log under one data directory (Kafka's
// LogManager): it opens the logs found at start-up, creates and deletes them,
// and runs the background retention and flush jobs.
type Manager struct {
	dataDir string
	fs      FS
	logger  zerolog.Logger
	now     func() time.Time
	opts    ManagerOptions

	mu      sync.Mutex // guards logs, started, closed
	logs    map[TopicPartition]*Log
	started bool
	closed  bool

	stop    chan struct{}
	wg      sync.WaitGroup // background jobs and directory removals
	trimmer *cacheTrimmer  // nil without a hot window

	aheadSwept atomic.Int64 // aheadLastUsed when the logs' read-aheads were last forgotten
}

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	FS     FS
	Logger zerolog.Logger
	Now    func() time.Time
	// RetentionCheckInterval is log.retention.check.interval.ms (5 min).
	RetentionCheckInterval time.Duration
	// FlushCheckInterval is log.flush.scheduler.interval.ms: how often
	// flush.ms is checked. Zero, or Kafka's default (Long.MAX_VALUE ms, which
	// saturates a Duration), never checks it.
	FlushCheckInterval time.Duration
	// CacheHotBytes is each log's page-cache hot window (Options); 0 leaves
	// the page cache to the kernel.
	CacheHotBytes int64
	// CacheHotTotalBytes bounds the hot windows of all logs together: data
	// stays cached only while less than this has been written to the
	// Manager's logs since (cache.go). 0: each log keeps its own window.
	CacheHotTotalBytes int64
	// OnLogFailure is each log's Options.OnFailure: called once per log,
	// when it first fails, never with a lock of the log held (possibly on
	// one of the Manager's goroutines: it must not wait for Close).
	OnLogFailure func(tp TopicPartition, err error)
}

// deleteDirSuffix ends the name of a directory being deleted
// ("<topic>-<partition>.<hex id>-delete", as Kafka names them).
const deleteDirSuffix = "-delete"

func deleteDirName(dir string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return dir + "." + hex.EncodeToString(b[:]) + deleteDirSuffix
}

// PartitionDir is "<dataDir>/<topic>-<partition>".
func PartitionDir(dataDir, topic string, partition int32) string {
	return filepath.Join(dataDir, topic+"-"+strconv.FormatInt(int64(partition), 10))
}

// parsePartitionDir splits "<topic>-<partition>"; the partition follows the
// last '-' (topic names may contain '-').
func parsePartitionDir(name string) (TopicPartition, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return TopicPartition{}, false
	}
	digits := name[i+1:]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return TopicPartition{}, false
		}
	}
	p, err := strconv.ParseInt(digits, 10, 32)
	if err != nil {
		return TopicPartition{}, false
	}
	return TopicPartition{Topic: name[:i], Partition: int32(p)}, true
}

// NewManager opens the data directory. Existing partition directories are not
// opened until GetOrCreate asks for them (the broker knows each partition's
// topic id and config from metadata); Existing lists them. Directories left
// by an interrupted Delete are removed in the background.
func NewManager(dataDir string, opts ManagerOptions) (*Manager, error) {
	m := &Manager{
		dataDir: dataDir,
		fs:      opts.FS,
		logger:  opts.Logger,
		now:     opts.Now,
		opts:    opts,
		logs:    make(map[TopicPartition]*Log),
		stop:    make(chan struct{}),
	}
	if m.fs == nil {
		m.fs = OSFS{}
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.opts.RetentionCheckInterval <= 0 {
		m.opts.RetentionCheckInterval = 5 * time.Minute
	}
	if m.opts.CacheHotBytes > 0 {
		m.trimmer = newCacheTrimmer(m.opts.CacheHotTotalBytes)
	}
	if err := m.fs.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: data dir %s: %w", dataDir, err)
	}
	ents, err := m.fs.ReadDir(dataDir)
	if err != nil {
		return nil, fmt.Errorf("storage: data dir %s: %w", dataDir, err)
	}
	for _, e := range ents {
		if e.IsDir() && strings.HasSuffix(e.Name(), deleteDirSuffix) {
			m.removeInBackground(filepath.Join(dataDir, e.Name()))
		}
	}
	return m, nil
}

func (m *Manager) removeInBackground(dir string) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.fs.RemoveAll(dir); err != nil {
			m.logger.Warn().Err(err).Str("dir", dir).Msg("removing deleted log directory")
		}
	}()
}

// Existing lists the (topic, partition) directories present on disk.
func (m *Manager) Existing() []TopicPartition {
	ents, err := m.fs.ReadDir(m.dataDir)
	if err != nil {
		m.logger.Warn().Err(err).Str("dir", m.dataDir).Msg("listing data dir")
		return nil
	}
	var out []TopicPartition
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if tp, ok := parsePartitionDir(e.Name()); ok {
			out = append(out, tp)
		}
	}
	return out
}

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// GetOrCreate returns the open log for the partition, opening or creating it.
// An already open log keeps its configuration (use Log.UpdateConfig).
func (m *Manager) GetOrCreate(topic string, partition int32, topicID [16]byte, cfg Config) (*Log, error) {
	tp := TopicPartition{topic, partition}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if l := m.logs[tp]; l != nil {
		return l, nil
	}
	if topic == "" || strings.ContainsAny(topic, "/\\") || topic == "." || topic == ".." || partition < 0 {
		return nil, fmt.Errorf("storage: invalid partition %q/%d", topic, partition)
	}
	var onFailure func(error)
	if f := m.opts.OnLogFailure; f != nil {
		onFailure = func(err error) { f(tp, err) }
	}
	l, err := Open(PartitionDir(m.dataDir, topic, partition), topicID, cfg, Options{
		FS: m.fs, Logger: loggerWith(m.logger, topic, partition), Now: m.now,
		CacheHotBytes: m.opts.CacheHotBytes, trimmer: m.trimmer, OnFailure: onFailure,
	})
	if err != nil {
		return nil, err
	}
	m.logs[tp] = l
	return l, nil
}

// Get returns the open log, or nil.
func (m *Manager) Get(topic string, partition int32) *Log {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.logs[TopicPartition{topic, partition}]
}

// Delete closes and removes the partition's log (rename to a
// "<topic>-<partition>.<id>-delete" directory first, remove in background, as
// Kafka does). Deleting a partition that is not open removes its directory.
func (m *Manager) Delete(topic string, partition int32) error {
	tp := TopicPartition{topic, partition}
	m.mu.Lock()
	l := m.logs[tp]
	delete(m.logs, tp)
	m.mu.Unlock()
	var dst string
	if l != nil {
		var err error
		if dst, err = l.closeForDelete(); err != nil {
			return err
		}
	} else {
		dir := PartitionDir(m.dataDir, topic, partition)
		if _, err := m.fs.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		dst = deleteDirName(dir)
		if err := m.fs.Rename(dir, dst); err != nil {
			return fmt.Errorf("storage: delete %s: %w", dir, err)
		}
	}
	m.removeInBackground(dst)
	return nil
}

// Start runs the background retention and flush jobs until Close.
func (m *Manager) Start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started || m.closed {
		return
	}
	m.started = true
	m.wg.Add(2)
	go m.loop(m.opts.RetentionCheckInterval, m.retentionTick)
	go m.loop(readAheadCheckInterval, m.releaseIdleReadAheads)
	if every, ok := m.flushCheckEvery(); ok {
		m.wg.Add(1)
		go m.loop(every, m.flushTick)
	}
}

// readAheadCheckInterval is how often idle read-ahead memory is looked for
// (releaseIdleReadAheads).
var readAheadCheckInterval = time.Second

// flushCheckEvery is how often flush.ms is checked; ok=false: never.
func (m *Manager) flushCheckEvery() (time.Duration, bool) {
	d := m.opts.FlushCheckInterval
	return d, d > 0 && d < math.MaxInt64
}

func (m *Manager) loop(every time.Duration, fn func(time.Time)) {
	defer m.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			fn(m.now())
		}
	}
}

func (m *Manager) openLogs() map[TopicPartition]*Log {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[TopicPartition]*Log, len(m.logs))
	for tp, l := range m.logs {
		out[tp] = l
	}
	return out
}

func (m *Manager) retentionTick(now time.Time) {
	for tp, l := range m.openLogs() {
		// A storage error was logged once when the log failed.
		if _, err := l.ApplyRetention(now); err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrStorage) {
			m.logger.Warn().Err(err).Str("topic", tp.Topic).Int32("partition", tp.Partition).Msg("retention failed")
		}
	}
}

func (m *Manager) flushTick(now time.Time) {
	for tp, l := range m.openLogs() {
		if err := l.maybeFlushByTime(now); err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrStorage) {
			m.logger.Warn().Err(err).Str("topic", tp.Topic).Int32("partition", tp.Partition).Msg("flush failed")
		}
	}
}

// Close stops the background jobs and closes every log cleanly.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	logs := m.logs
	m.logs = map[TopicPartition]*Log{}
	m.mu.Unlock()
	close(m.stop)
	m.wg.Wait()
	if m.trimmer != nil {
		m.trimmer.close()
	}
	var first error
	for _, l := range logs {
		if err := l.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
