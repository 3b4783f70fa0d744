package storage

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
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
	dataDir string    // the first log directory
	dirs    []*logDir // every log directory, in configuration order (log_dirs.go)
	fs      FS
	logger  zerolog.Logger
	now     func() time.Time
	opts    ManagerOptions

	mu      sync.Mutex // guards logs, opening, started, closed and the dirs' state
	logs    map[TopicPartition]*Log
	opening map[TopicPartition]chan struct{} // closed when the open ends
	started bool
	closed  bool

	stop    chan struct{}
	wg      sync.WaitGroup // background jobs and directory removals
	trimmer *cacheTrimmer  // nil without a hot window
	// cleaner runs the cleaning threads; nil without (cleaner.go).
	// cleanerMu serializes its replacement (ReconfigureCleaner, Close);
	// cleanerTotal sums the cleaners replaced so far.
	cleaner      atomic.Pointer[cleaner]
	cleanerMu    sync.Mutex
	cleanerTotal CleanStats

	moves map[TopicPartition]*MoveState // guarded by mu (log_move.go)

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
	// FileDeleteDelay is how long a deleted partition directory found at
	// start-up ("-delete") waits before it is removed (the broker default of
	// file.delete.delay.ms); <= 0 removes it at once.
	FileDeleteDelay time.Duration
	// OnLogFailure is each log's Options.OnFailure: called once per log,
	// when it first fails, never with a lock of the log held (possibly on
	// one of the Manager's goroutines: it must not wait for Close).
	OnLogFailure func(tp TopicPartition, err error)
	// FlushObserver is every log's Options.FlushObserver.
	FlushObserver func(time.Duration)
	// Durable is every log's Options.Durable (samsa.log.durable).
	Durable bool
	// CleanerThreads is log.cleaner.threads: the goroutines compacting the
	// logs whose cleanup.policy includes compact (cleaner.go). 0 runs no
	// cleaner (log.cleaner.enable=false): compacted logs keep everything.
	CleanerThreads int
	// CleanerDedupeBufferSize is log.cleaner.dedupe.buffer.size: the
	// memory of the cleaners' offset maps, all threads together (128 MiB
	// when 0).
	CleanerDedupeBufferSize int64
	// CleanerBackoff is log.cleaner.backoff.ms: how long an idle cleaner
	// thread sleeps (15 s when 0).
	CleanerBackoff time.Duration
	// CleanerLoadFactor is log.cleaner.io.buffer.load.factor (0.9 when 0).
	CleanerLoadFactor float64
	// CleanerMaxBytesPerSecond is log.cleaner.io.max.bytes.per.second:
	// the cleaners' reads and writes together, on average; 0 or
	// MaxFloat64: unlimited.
	CleanerMaxBytesPerSecond float64

	// moveKill, in tests, is called at each step of a log move
	// (log_move.go); an error stops the move there as a crash would.
	moveKill func(step string) error
}

// deleteDirSuffix ends the name of a directory being deleted
// ("<topic>-<partition>.<hex id>-delete", as Kafka names them), strayDirSuffix
// that of a directory set aside because metadata does not know its topic id
// ("<topic>-<partition>.<hex id>-stray", Kafka 3.7+); stray directories are
// never removed by samsa.
const (
	deleteDirSuffix = "-delete"
	strayDirSuffix  = "-stray"
)

func deleteDirName(dir string) string { return asideDirName(dir, deleteDirSuffix) }

func asideDirName(dir, suffix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return dir + "." + hex.EncodeToString(b[:]) + suffix
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
	return NewManagerDirs([]string{dataDir}, opts)
}

// NewManagerDirs opens several log directories (log.dirs). One that cannot
// be opened is offline (Dirs says why) while the others serve; an error is
// returned only when none can be opened.
func NewManagerDirs(dirs []string, opts ManagerOptions) (*Manager, error) {
	if len(dirs) == 0 {
		return nil, errors.New("storage: no log directory")
	}
	m := &Manager{
		dataDir: filepath.Clean(dirs[0]),
		fs:      opts.FS,
		logger:  opts.Logger,
		now:     opts.Now,
		opts:    opts,
		logs:    make(map[TopicPartition]*Log),
		opening: make(map[TopicPartition]chan struct{}),
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
	if m.opts.CleanerThreads > 0 {
		m.cleaner.Store(newCleaner(m, m.cleanerOptions()))
	}
	seen := map[string]bool{}
	var lastErr error
	for _, p := range dirs {
		p = filepath.Clean(p)
		if seen[p] {
			return nil, fmt.Errorf("storage: log directory %s is listed twice", p)
		}
		seen[p] = true
		d := &logDir{path: p, holds: map[TopicPartition]bool{}}
		m.dirs = append(m.dirs, d)
		if err := m.openDir(d); err != nil {
			lastErr = err
			d.offline = fmt.Errorf("%w: %w", ErrLogDirOffline, err)
			if len(dirs) > 1 {
				m.logger.Error().Err(err).Str("log_dir", p).
					Msg("log directory cannot be opened: it is offline, its partitions are offline on this broker; the other directories serve")
			}
		}
	}
	if len(m.onlineDirs()) == 0 {
		close(m.stop)
		m.wg.Wait()
		return nil, lastErr
	}
	m.resolveMoves()
	return m, nil
}

// removeAfter removes dir (a "-delete" directory) after delay, in the
// background; a Manager closed first leaves it for the next start.
func (m *Manager) removeAfter(dir string, delay time.Duration) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if delay > 0 {
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-m.stop:
				return
			}
		}
		if err := m.fs.RemoveAll(dir); err != nil {
			m.logger.Warn().Err(err).Str("dir", dir).Msg("removing deleted log directory")
			return
		}
		m.logger.Debug().Str("dir", dir).Msg("deleted log directory removed")
	}()
}

// Existing lists the (topic, partition) directories present on disk, in
// every online log directory.
func (m *Manager) Existing() []TopicPartition {
	var out []TopicPartition
	for _, d := range m.onlineDirs() {
		ents, err := m.fs.ReadDir(d.path)
		if err != nil {
			m.logger.Warn().Err(err).Str("dir", d.path).Msg("listing data dir")
			continue
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			if tp, ok := parsePartitionDir(e.Name()); ok {
				out = append(out, tp)
			}
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
// An already open log keeps its configuration (use Log.UpdateConfig). A log
// (open or on disk) that belongs to another topic id is never returned:
// that is ErrTopicIDMismatch, and the caller decides between Delete (the
// other id was deleted) and MarkStray.
func (m *Manager) GetOrCreate(topic string, partition int32, topicID [16]byte, cfg Config) (*Log, error) {
	if topic == "" || strings.ContainsAny(topic, "/\\") || topic == "." || topic == ".." || partition < 0 {
		return nil, fmt.Errorf("storage: invalid partition %q/%d", topic, partition)
	}
	tp := TopicPartition{topic, partition}
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, ErrClosed
		}
		if l := m.logs[tp]; l != nil {
			m.mu.Unlock()
			if topicID != ([16]byte{}) && l.TopicID() != topicID {
				return nil, fmt.Errorf("%w: the open log of %s-%d holds topic id %x, expected %x",
					ErrTopicIDMismatch, topic, partition, l.TopicID(), topicID)
			}
			return l, nil
		}
		wait, busy := m.opening[tp]
		if !busy {
			done := make(chan struct{})
			m.opening[tp] = done
			m.mu.Unlock()
			l, err := m.open(tp, topicID, cfg)
			m.mu.Lock()
			delete(m.opening, tp)
			close(done)
			if err == nil {
				if m.closed {
					m.mu.Unlock()
					l.Close()
					return nil, ErrClosed
				}
				m.logs[tp] = l
			}
			m.mu.Unlock()
			return l, err
		}
		m.mu.Unlock()
		<-wait // another caller is opening it; look again
	}
}

func (m *Manager) open(tp TopicPartition, topicID [16]byte, cfg Config) (*Log, error) {
	m.notice(tp)
	m.mu.Lock()
	d, err := m.placeLocked(tp)
	if err == nil && !d.holds[tp] {
		d.holds[tp] = true // counted at once: concurrent creations spread
	}
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	dir := d.path
	onFailure := func(err error) { m.logFailed(tp, dir, err) }
	return Open(PartitionDir(dir, tp.Topic, tp.Partition), topicID, cfg, Options{
		FS: m.fs, Logger: loggerWith(m.logger, tp.Topic, tp.Partition), Now: m.now,
		CacheHotBytes: m.opts.CacheHotBytes, FlushObserver: m.opts.FlushObserver, trimmer: m.trimmer, OnFailure: onFailure,
		Durable: m.opts.Durable,
	})
}

// Get returns the open log, or nil.
func (m *Manager) Get(topic string, partition int32) *Log {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.logs[TopicPartition{topic, partition}]
}

// Delete closes and removes the partition's log, as Kafka does: the
// directory is renamed to "<topic>-<partition>.<id>-delete" at once and
// removed after delay (file.delete.delay.ms; <= 0: at once) in the
// background. Deleting a partition that is not open renames its directory.
// Call it only when a recorded decision says the data goes (a topic
// deletion); for a directory nobody knows, use MarkStray.
func (m *Manager) Delete(topic string, partition int32, delay time.Duration) error {
	dst, err := m.setAside(TopicPartition{topic, partition}, deleteDirSuffix, false)
	if err != nil || dst == "" {
		return err
	}
	m.logger.Info().Str("topic", topic).Int32("partition", partition).Str("dir", dst).
		Dur("delete_delay", max(delay, 0)).Msg("partition log deleted")
	m.removeAfter(dst, delay)
	return nil
}

// MarkStray sets the partition's directory aside as
// "<topic>-<partition>.<id>-stray" (closing its log if open), as Kafka 3.7+
// does with logs whose topic id the cluster does not know: the data is kept
// for an operator to look at, never removed. It returns the new name ("" when
// there was no directory).
func (m *Manager) MarkStray(topic string, partition int32) (string, error) {
	dst, err := m.setAside(TopicPartition{topic, partition}, strayDirSuffix, true)
	if err == nil && dst != "" {
		m.logger.Warn().Str("topic", topic).Int32("partition", partition).Str("dir", dst).
			Msg("partition directory set aside as stray: its topic id is not known to the cluster; the data is kept")
	}
	return dst, err
}

// setAside closes the partition's log if open (cleanly, so that it reopens
// without recovery, when clean is set) and renames its directory with
// suffix; "" when there is no directory.
func (m *Manager) setAside(tp TopicPartition, suffix string, clean bool) (string, error) {
	m.mu.Lock()
	l := m.logs[tp]
	delete(m.logs, tp)
	m.mu.Unlock()
	if l != nil {
		var err error
		if clean {
			err = l.Close()
		} else {
			err = l.closeFiles()
		}
		if err != nil {
			m.logger.Warn().Err(err).Str("dir", l.Dir()).Msg("closing a log set aside")
		}
	}
	m.notice(tp)
	d := m.dirOf(tp)
	if l != nil {
		// The open log knows where it is (a move may have just switched
		// it to another directory).
		d = nil
		for _, x := range m.onlineDirs() {
			if x.path == filepath.Dir(l.Dir()) {
				d = x
			}
		}
	}
	if d == nil {
		return "", nil
	}
	dir := PartitionDir(d.path, tp.Topic, tp.Partition)
	if _, err := m.fs.Stat(dir); errors.Is(err, os.ErrNotExist) {
		m.mu.Lock()
		delete(d.holds, tp)
		m.mu.Unlock()
		return "", nil
	}
	dst := asideDirName(dir, suffix)
	if err := m.fs.Rename(dir, dst); err != nil {
		return "", fmt.Errorf("storage: rename %s to %s: %w", dir, dst, err)
	}
	m.mu.Lock()
	delete(d.holds, tp)
	m.mu.Unlock()
	if err := syncDir(m.fs, d.path); err != nil {
		return dst, fmt.Errorf("storage: sync %s after renaming %s: %w", d.path, dir, err)
	}
	return dst, nil
}

// Start runs the background retention and flush jobs until Close.
func (m *Manager) Start() {
	if !m.startJobs() {
		return
	}
	// Not under mu: cleaner threads take it (cleanerMu is never held with
	// mu wanted after it, except briefly in ReconfigureCleaner).
	m.cleanerMu.Lock()
	if c := m.cleaner.Load(); c != nil {
		m.startCleaner(c)
	}
	m.cleanerMu.Unlock()
}

// startJobs starts the background jobs other than the cleaner, once;
// false when started or closed already.
func (m *Manager) startJobs() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started || m.closed {
		return false
	}
	m.started = true
	m.wg.Add(2)
	go m.loop(m.opts.RetentionCheckInterval, m.retentionTick)
	go m.loop(readAheadCheckInterval, m.releaseIdleReadAheads)
	if every, ok := m.flushCheckEvery(); ok {
		m.wg.Add(1)
		go m.loop(every, m.flushTick)
	}
	return true
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
func (m *Manager) Close() error { return m.CloseThreads(1) }

// CloseThreads is Close with the logs closed (flushed, checkpointed and
// marked clean) by threads goroutines at once, as Kafka shuts its logs down
// with num.recovery.threads.per.data.dir threads: each log's fsyncs wait on
// the disk, and those of several logs share its journal commits.
func (m *Manager) CloseThreads(threads int) error {
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
	m.cleanerMu.Lock()
	m.stopCleaner()
	m.cleanerMu.Unlock()
	m.wg.Wait()
	if m.trimmer != nil {
		m.trimmer.close()
	}
	open := slices.Collect(maps.Values(logs))
	errs := make([]error, len(open))
	parallelEach(len(open), threads, func(i int) { errs[i] = open[i].Close() })
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
