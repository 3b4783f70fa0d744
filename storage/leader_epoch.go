package storage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

const leaderEpochFile = "leader-epoch-checkpoint"

type epochEntry struct {
	epoch int32
	start int64
}

// leaderEpochCache is Kafka's LeaderEpochFileCache: the start offset of every
// leader epoch, checkpointed to leader-epoch-checkpoint in Kafka's text
// format on every change.
type leaderEpochCache struct {
	fs  FS
	dir string

	mu      sync.RWMutex // guards the fields below; writers also hold Log.mu
	entries []epochEntry
	// hold keeps changes in memory while Open has not yet decided that the
	// log opens; release writes them.
	hold, dirty bool
	// onDisk are the entries the checkpoint held when loaded, kept until
	// release: recovery truncates the cache to the first recovered segment
	// and assigns the epochs of its batches again, which mostly gives back
	// the same entries, and then nothing needs writing.
	onDisk []epochEntry
}

func loadLeaderEpochCache(fsys FS, dir string) (*leaderEpochCache, error) {
	c := &leaderEpochCache{fs: fsys, dir: dir}
	b, err := readFile(fsys, filepath.Join(dir, leaderEpochFile))
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	entries, err := parseEpochCheckpoint(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, leaderEpochFile), err)
	}
	c.entries = entries
	c.onDisk = slices.Clone(entries)
	return c, nil
}

// parseEpochCheckpoint reads Kafka's CheckpointFile format: version "0",
// the entry count, then "epoch startOffset" lines.
func parseEpochCheckpoint(b []byte) ([]epochEntry, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return strings.TrimSpace(sc.Text()), true
	}
	v, ok := line()
	if !ok || v != "0" {
		return nil, fmt.Errorf("unsupported version %q", v)
	}
	cs, ok := line()
	n, err := strconv.Atoi(cs)
	if !ok || err != nil || n < 0 {
		return nil, fmt.Errorf("bad count %q", cs)
	}
	out := make([]epochEntry, 0, n)
	for i := 0; i < n; i++ {
		l, ok := line()
		f := strings.Fields(l)
		if !ok || len(f) != 2 {
			return nil, fmt.Errorf("bad entry %q", l)
		}
		e, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad entry %q", l)
		}
		out = append(out, epochEntry{epoch: int32(e), start: o})
	}
	return out, nil
}

func (c *leaderEpochCache) encode() []byte {
	b := make([]byte, 0, 8+len(c.entries)*16)
	b = append(b, "0\n"...)
	b = strconv.AppendInt(b, int64(len(c.entries)), 10)
	b = append(b, '\n')
	for _, e := range c.entries {
		b = strconv.AppendInt(b, int64(e.epoch), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, e.start, 10)
		b = append(b, '\n')
	}
	return b
}

// persistLocked writes the checkpoint (unless held); c.mu must be held.
func (c *leaderEpochCache) persistLocked() error {
	if c.hold {
		c.dirty = true
		return nil
	}
	return writeFileAtomic(c.fs, filepath.Join(c.dir, leaderEpochFile), c.encode())
}

// release ends hold, writing the checkpoint if it changed meanwhile.
func (c *leaderEpochCache) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	write := c.dirty && !slices.Equal(c.entries, c.onDisk)
	c.hold, c.dirty, c.onDisk = false, false, nil
	if !write {
		return nil
	}
	return c.persistLocked()
}

func (c *leaderEpochCache) latest() (epochEntry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.entries) == 0 {
		return epochEntry{}, false
	}
	return c.entries[len(c.entries)-1], true
}

func (c *leaderEpochCache) latestEpoch() int32 {
	if e, ok := c.latest(); ok {
		return e.epoch
	}
	return -1
}

// assign records that epoch starts at offset when epoch is newer than the
// latest one, dropping entries it supersedes (Kafka's assign).
func (c *leaderEpochCache) assign(epoch int32, offset int64) error {
	if epoch < 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.entries); n > 0 && c.entries[n-1].epoch >= epoch {
		return nil
	}
	prev := append([]epochEntry(nil), c.entries...)
	var kept []epochEntry
	for _, e := range c.entries {
		if e.epoch < epoch && e.start < offset {
			kept = append(kept, e)
		}
	}
	c.entries = append(kept, epochEntry{epoch: epoch, start: offset})
	return c.persistOrRestoreLocked(prev)
}

// persistOrRestoreLocked persists the entries; when that fails for lack
// of space it puts prev back (nospace.go: the append is refused, the log
// stays writable).
func (c *leaderEpochCache) persistOrRestoreLocked(prev []epochEntry) error {
	err := c.persistLocked()
	if err != nil && isNoSpace(err) {
		c.entries = prev
	}
	return err
}

// assignFollower records that epoch starts at offset, the log end offset
// where a follower appends a batch of that epoch: entries starting at or
// after offset (epochs this replica assigned as leader and wrote nothing
// in) give way; an epoch equal to the latest remaining one continues it.
// The caller has checked that epoch is not older than an epoch holding data.
func (c *leaderEpochCache) assignFollower(epoch int32, offset int64) error {
	if epoch < 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	prev := append([]epochEntry(nil), c.entries...)
	n := len(c.entries)
	for n > 0 && c.entries[n-1].start >= offset {
		n--
	}
	changed := n != len(c.entries)
	c.entries = c.entries[:n:n]
	if n == 0 || c.entries[n-1].epoch < epoch {
		c.entries = append(c.entries, epochEntry{epoch: epoch, start: offset})
		changed = true
	}
	if !changed {
		return nil
	}
	return c.persistOrRestoreLocked(prev)
}

// latestWithData is the newest entry that starts below leo (whose epoch
// holds data).
func (c *leaderEpochCache) latestWithData(leo int64) (epochEntry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i := len(c.entries) - 1; i >= 0; i-- {
		if c.entries[i].start < leo {
			return c.entries[i], true
		}
	}
	return epochEntry{}, false
}

// clear removes every entry (a log truncated fully).
func (c *leaderEpochCache) clear() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) == 0 {
		return nil
	}
	c.entries = nil
	return c.persistLocked()
}

// truncateFromEnd removes the epochs that start at or after endOffset.
func (c *leaderEpochCache) truncateFromEnd(endOffset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.entries)
	for n > 0 && c.entries[n-1].start >= endOffset {
		n--
	}
	if n == len(c.entries) {
		return nil
	}
	c.entries = c.entries[:n]
	return c.persistLocked()
}

// truncateFromStart drops epochs that end before startOffset and moves the
// start of the epoch holding startOffset up to it.
func (c *leaderEpochCache) truncateFromStart(startOffset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for i < len(c.entries) && c.entries[i].start <= startOffset {
		i++
	}
	if i == 0 || (i == 1 && c.entries[0].start == startOffset) {
		return nil
	}
	keep := c.entries[i-1]
	keep.start = startOffset
	rest := append([]epochEntry{keep}, c.entries[i:]...)
	c.entries = rest
	return c.persistLocked()
}

// endOffsetFor answers OffsetForLeaderEpoch (see Log.EndOffsetForEpoch).
func (c *leaderEpochCache) endOffsetFor(epoch int32, leo int64) (int64, int32) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := len(c.entries)
	if epoch < 0 || n == 0 {
		return -1, -1
	}
	if epoch < c.entries[0].epoch {
		// Older than anything known: as Kafka, the requested epoch ends
		// where the first known one starts.
		return c.entries[0].start, epoch
	}
	if epoch >= c.entries[n-1].epoch {
		if epoch == c.entries[n-1].epoch {
			return leo, epoch
		}
		return -1, -1
	}
	// floor: largest epoch <= requested; its end is the next entry's start.
	i := n - 1
	for c.entries[i].epoch > epoch {
		i--
	}
	return c.entries[i+1].start, c.entries[i].epoch
}

func (c *leaderEpochCache) snapshot() []epochEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return append([]epochEntry(nil), c.entries...)
}
