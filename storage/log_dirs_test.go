package storage

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rs/zerolog"
)

func dirsManager(t *testing.T, dirs []string, fsys FS, onFail func(TopicPartition, error)) *Manager {
	t.Helper()
	m, err := NewManagerDirs(dirs, ManagerOptions{FS: fsys, OnLogFailure: onFail,
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// New partitions go to the directory holding the fewest; a restart finds
// each in the directory it was created in, and creates no second copy.
func TestManagerDirsSpreadAndReopen(t *testing.T) {
	root := t.TempDir()
	d1, d2 := filepath.Join(root, "d1"), filepath.Join(root, "d2")
	// d1 already holds one partition: the next two go to d2 first.
	if err := os.MkdirAll(PartitionDir(d1, "old", 0), 0o755); err != nil {
		t.Fatal(err)
	}
	m := dirsManager(t, []string{d1, d2}, nil, nil)
	where := map[int32]string{}
	for p := range int32(5) {
		l, err := m.GetOrCreate("t", p, [16]byte{1}, Config{})
		if err != nil {
			t.Fatal(err)
		}
		mustAppend(t, l, simpleBatch(1, 10, 1), 0)
		where[p] = filepath.Dir(l.Dir())
	}
	want := map[int32]string{0: d2, 1: d1, 2: d2, 3: d1, 4: d2}
	for p, d := range want {
		if where[p] != d {
			t.Fatalf("partition %d in %s, want %s (all: %v)", p, where[p], d, where)
		}
	}
	m.Close()

	m = dirsManager(t, []string{d1, d2}, nil, nil)
	scan, err := m.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if len(scan) != 6 {
		t.Fatalf("scan of both dirs: %d partitions, want 6: %+v", len(scan), scan)
	}
	for p, d := range want {
		l, err := m.GetOrCreate("t", p, [16]byte{1}, Config{})
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(l.Dir()) != d || l.LogEndOffset() != 1 {
			t.Fatalf("reopened partition %d in %s with LEO %d, want %s and 1", p, l.Dir(), l.LogEndOffset(), d)
		}
	}
	for p, d := range want {
		if _, err := os.Stat(PartitionDir(otherDir(d, d1, d2), "t", p)); err == nil {
			t.Fatalf("t-%d exists in both directories", p)
		}
	}
}

func otherDir(d, a, b string) string {
	if d == a {
		return b
	}
	return a
}

// A partition directory present in two log directories is opened from
// neither: either could hide the other's data.
func TestManagerDirsDuplicateRefused(t *testing.T) {
	root := t.TempDir()
	d1, d2 := filepath.Join(root, "d1"), filepath.Join(root, "d2")
	for _, d := range []string{d1, d2} {
		if err := os.MkdirAll(PartitionDir(d, "t", 0), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m := dirsManager(t, []string{d1, d2}, nil, nil)
	if _, err := m.GetOrCreate("t", 0, [16]byte{1}, Config{}); !errors.Is(err, ErrStorage) {
		t.Fatalf("duplicate partition directory: %v, want ErrStorage", err)
	}
}

// A directory that cannot be opened at start-up is offline; the others
// serve; a partition it might hold is not created elsewhere.
func TestManagerDirsOfflineAtStart(t *testing.T) {
	root := t.TempDir()
	d1, bad := filepath.Join(root, "d1"), filepath.Join(root, "bad")
	if err := os.WriteFile(bad, []byte("a file, not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(PartitionDir(d1, "t", 0), 0o755); err != nil {
		t.Fatal(err)
	}
	m := dirsManager(t, []string{d1, bad}, nil, nil)
	dirs := m.Dirs()
	if len(dirs) != 2 || dirs[0].Err != nil || !errors.Is(dirs[1].Err, ErrLogDirOffline) {
		t.Fatalf("dirs: %+v", dirs)
	}
	l, err := m.GetOrCreate("t", 0, [16]byte{1}, Config{})
	if err != nil {
		t.Fatalf("partition in the online dir: %v", err)
	}
	mustAppend(t, l, simpleBatch(1, 10, 1), 0)
	if _, err := m.GetOrCreate("t", 1, [16]byte{1}, Config{}); !errors.Is(err, ErrLogDirOffline) || !errors.Is(err, ErrStorage) {
		t.Fatalf("a partition the offline dir may hold: %v, want ErrLogDirOffline", err)
	}
	if _, err := os.Stat(PartitionDir(d1, "t", 1)); !os.IsNotExist(err) {
		t.Fatalf("t-1 created in the online dir: %v", err)
	}

	// Every directory offline: the Manager cannot open.
	if _, err := NewManagerDirs([]string{bad}, ManagerOptions{}); err == nil {
		t.Fatal("a Manager with no usable directory opened")
	}
}

// A log directory whose writes fail goes offline alone: all its logs
// fail (reported once each), the other directory keeps taking appends and
// new partitions, and nothing is removed.
func TestManagerDirFailsAlone(t *testing.T) {
	root := t.TempDir()
	d1, d2 := filepath.Join(root, "d1"), filepath.Join(root, "d2")
	fsys := newFaultFS()
	var mu sync.Mutex
	reported := map[TopicPartition]int{}
	m := dirsManager(t, []string{d1, d2}, fsys, func(tp TopicPartition, err error) {
		mu.Lock()
		reported[tp]++
		mu.Unlock()
	})
	logs := make([]*Log, 4) // 0, 2 in d1; 1, 3 in d2
	for p := range logs {
		l, err := m.GetOrCreate("t", int32(p), [16]byte{1}, Config{})
		if err != nil {
			t.Fatal(err)
		}
		mustAppend(t, l, simpleBatch(1, 10, 1), 0)
		logs[p] = l
	}
	if filepath.Dir(logs[1].Dir()) != d2 || filepath.Dir(logs[3].Dir()) != d2 || filepath.Dir(logs[0].Dir()) != d1 {
		t.Fatalf("placement: %s %s %s", logs[0].Dir(), logs[1].Dir(), logs[3].Dir())
	}

	fsys.mu.Lock()
	fsys.match, fsys.failWrites = d2+string(filepath.Separator), true
	fsys.mu.Unlock()
	if _, err := logs[1].Append(simpleBatch(1, 10, 1), 0, -1); !errors.Is(err, ErrStorage) {
		t.Fatalf("append in the failing dir: %v", err)
	}
	dirs := m.Dirs()
	if dirs[0].Err != nil || !errors.Is(dirs[1].Err, ErrLogDirOffline) {
		t.Fatalf("dirs after the failure: %+v", dirs)
	}
	// t-3 wrote nothing but is in the failed directory: offline too.
	if err := logs[3].Err(); !errors.Is(err, ErrLogDirOffline) || !errors.Is(err, ErrStorage) {
		t.Fatalf("other log of the failed dir: %v", err)
	}
	if _, err := logs[3].Append(simpleBatch(1, 10, 1), 0, -1); !errors.Is(err, ErrStorage) {
		t.Fatalf("append to the other log of the failed dir: %v", err)
	}
	for _, p := range []int{0, 2} {
		if logs[p].Err() != nil {
			t.Fatalf("t-%d in the good dir failed: %v", p, logs[p].Err())
		}
		mustAppend(t, logs[p], simpleBatch(1, 10, 1), 0)
	}
	mu.Lock()
	if reported[TopicPartition{"t", 1}] != 1 || reported[TopicPartition{"t", 3}] != 1 || len(reported) != 2 {
		t.Fatalf("failures reported: %v", reported)
	}
	mu.Unlock()
	// New partitions go to the good directory; one the failed directory
	// holds is refused.
	l, err := m.GetOrCreate("n", 0, [16]byte{2}, Config{})
	if err != nil || filepath.Dir(l.Dir()) != d1 {
		t.Fatalf("new partition with d2 offline: %v", err)
	}
	m.mu.Lock()
	delete(m.logs, TopicPartition{"t", 3}) // as if never opened
	m.mu.Unlock()
	if _, err := m.GetOrCreate("t", 3, [16]byte{1}, Config{}); !errors.Is(err, ErrLogDirOffline) {
		t.Fatalf("reopening a partition of the offline dir: %v", err)
	}
	for _, p := range []int32{1, 3} {
		if _, err := os.Stat(filepath.Join(PartitionDir(d2, "t", p), "00000000000000000000.log")); err != nil {
			t.Fatalf("files of the offline dir must be kept: %v", err)
		}
	}
}
