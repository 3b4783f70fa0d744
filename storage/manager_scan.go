package storage

// Start-up: what the data directory holds, and opening many logs at once.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// DiskPartition is a partition directory found in the data directory.
type DiskPartition struct {
	TopicPartition
	Dir string
	// TopicID is the id in the directory's partition.metadata; zero when
	// the file does not exist (a directory written before topic ids).
	TopicID [16]byte
	// Err is set when partition.metadata exists but cannot be read or
	// parsed: the directory's owner is unknown and it must not be touched.
	Err error
	// CleanShutdown: the log was last closed cleanly (its clean-shutdown
	// marker is there), so it holds everything it acknowledged having;
	// without it, what was not flushed may be gone (KIP-966 asks such a
	// broker to leave the ELRs).
	CleanShutdown bool
}

// Scan lists the partition directories in the online log directories with
// the topic id each one's partition.metadata names. Directories being
// deleted ("-delete"), set aside ("-stray") and anything that is not named
// "<topic>-<partition>" are not listed. Nothing is opened or changed.
func (m *Manager) Scan() ([]DiskPartition, error) {
	var out []DiskPartition
	for _, d := range m.onlineDirs() {
		var err error
		if out, err = m.scanDir(d.path, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (m *Manager) scanDir(dataDir string, out []DiskPartition) ([]DiskPartition, error) {
	ents, err := m.fs.ReadDir(dataDir)
	if err != nil {
		return nil, fmt.Errorf("storage: list data dir %s: %w", dataDir, err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		tp, ok := parsePartitionDir(e.Name())
		if !ok {
			continue
		}
		dp := DiskPartition{TopicPartition: tp, Dir: filepath.Join(dataDir, e.Name())}
		dp.CleanShutdown = exists(m.fs, filepath.Join(dp.Dir, cleanShutdownFile))
		path := filepath.Join(dp.Dir, partitionMetadataFile)
		b, err := readFile(m.fs, path)
		switch {
		case err == nil:
			id, perr := parsePartitionMetadata(b)
			if perr != nil {
				dp.Err = fmt.Errorf("storage: %s: %w", path, perr)
			} else {
				dp.TopicID = id
			}
		case !errors.Is(err, os.ErrNotExist):
			dp.Err = fmt.Errorf("storage: read %s: %w", path, err)
		}
		out = append(out, dp)
	}
	return out, nil
}

// HasData reports whether an online log directory holds partition data: a
// partition directory, one being deleted or one set aside.
func (m *Manager) HasData() (bool, error) {
	for _, d := range m.onlineDirs() {
		if ok, err := m.DirHasData(d.path); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

// DirHasData is HasData of the one log directory dir.
func (m *Manager) DirHasData(dir string) (bool, error) {
	ents, err := m.fs.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("storage: list data dir %s: %w", dir, err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if _, ok := parsePartitionDir(e.Name()); ok || isAsideDir(e.Name()) {
			return true, nil
		}
	}
	return false, nil
}

func isAsideDir(name string) bool {
	n := len(name)
	return n > len(deleteDirSuffix) && name[n-len(deleteDirSuffix):] == deleteDirSuffix ||
		n > len(strayDirSuffix) && name[n-len(strayDirSuffix):] == strayDirSuffix
}

// OpenRequest is one log for OpenAll.
type OpenRequest struct {
	Topic     string
	Partition int32
	TopicID   [16]byte
	Config    Config
}

// OpenAll opens (recovering where needed) the logs with up to threads
// running at once (num.recovery.threads.per.data.dir) and returns each
// one's log or error, in request order.
func (m *Manager) OpenAll(reqs []OpenRequest, threads int) ([]*Log, []error) {
	logs := make([]*Log, len(reqs))
	errs := make([]error, len(reqs))
	parallelEach(len(reqs), threads, func(i int) {
		r := reqs[i]
		logs[i], errs[i] = m.GetOrCreate(r.Topic, r.Partition, r.TopicID, r.Config)
	})
	return logs, errs
}

// parallelEach calls fn(i) for every i in [0, n), up to threads at once.
func parallelEach(n, threads int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, min(threads, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// TopicID is the topic id the log's partition.metadata holds (zero when the
// log has none).
func (l *Log) TopicID() [16]byte { return l.topicID }

// Dir is the log's directory.
func (l *Log) Dir() string { return *l.dirName.Load() }

// closeFiles closes the log without the clean-shutdown marker (it is being
// deleted).
func (l *Log) closeFiles() error {
	defer l.pauseCleaning()()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Swap(true) {
		return nil
	}
	l.bg.Wait()
	return l.closeFilesLocked()
}

// DirTopicID returns the topic id the partition directory's
// partition.metadata holds (zero when it has none).
func (m *Manager) DirTopicID(topic string, partition int32) ([16]byte, error) {
	if l := m.Get(topic, partition); l != nil {
		return l.TopicID(), nil
	}
	tp := TopicPartition{topic, partition}
	m.notice(tp)
	d := m.dirOf(tp)
	if d == nil {
		return [16]byte{}, nil
	}
	path := filepath.Join(PartitionDir(d.path, topic, partition), partitionMetadataFile)
	b, err := readFile(m.fs, path)
	if errors.Is(err, os.ErrNotExist) {
		return [16]byte{}, nil
	}
	if err != nil {
		return [16]byte{}, fmt.Errorf("storage: read %s: %w", path, err)
	}
	id, err := parsePartitionMetadata(b)
	if err != nil {
		return [16]byte{}, fmt.Errorf("storage: %s: %w", path, err)
	}
	return id, nil
}

// MaxProducerID is the largest producer id the log's producer state
// remembers, -1 when none: a cluster rebuilt around the log
// (samsa.adopt.existing.data) must hand out ids past it, or a new producer
// would be taken for a retry of an old one.
func (l *Log) MaxProducerID() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := int64(-1)
	for id := range l.producers.producers {
		out = max(out, id)
	}
	return out
}
