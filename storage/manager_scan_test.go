package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestMetaPropertiesRoundTripAndKafkaFormat(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := ReadMetaProperties(nil, dir); ok || err != nil {
		t.Fatalf("empty dir: ok=%v err=%v", ok, err)
	}
	want := MetaProperties{ClusterID: "MkU3OEVBNTcwNTJENDM2Qk", NodeID: 3, DirectoryID: NewDirectoryID()}
	if err := WriteMetaProperties(nil, dir, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := ReadMetaProperties(nil, dir)
	if err != nil || !ok || got != want {
		t.Fatalf("round trip: %+v ok=%v err=%v, want %+v", got, ok, err, want)
	}
	// As Kafka's StorageTool writes it.
	kafka := "#\n#Thu Dec 04 10:00:00 UTC 2026\ncluster.id=abc\ndirectory.id=xyz\nnode.id=1\nversion=1\n"
	os.WriteFile(filepath.Join(dir, MetaPropertiesFile), []byte(kafka), 0o644)
	got, ok, err = ReadMetaProperties(nil, dir)
	if err != nil || !ok || got != (MetaProperties{ClusterID: "abc", NodeID: 1, DirectoryID: "xyz"}) {
		t.Fatalf("Kafka's file: %+v ok=%v err=%v", got, ok, err)
	}
	for _, bad := range []string{
		"cluster.id=abc\nnode.id=1\n",            // no version
		"version=0\nbroker.id=1\ncluster.id=a\n", // ZooKeeper-era layout
		"version=1\nnode.id=1\n",                 // no cluster
		"version=1\ncluster.id=a\nnode.id=x\n",   // bad node id
	} {
		os.WriteFile(filepath.Join(dir, MetaPropertiesFile), []byte(bad), 0o644)
		if _, _, err := ReadMetaProperties(nil, dir); !errors.Is(err, ErrBadMetaProperties) {
			t.Errorf("%q: %v, want ErrBadMetaProperties", bad, err)
		}
	}
}

func testManager(t *testing.T, dir string, opts ManagerOptions) *Manager {
	t.Helper()
	opts.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	m, err := NewManager(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestManagerScanStrayAndDelayedDelete(t *testing.T) {
	dir := t.TempDir()
	m := testManager(t, dir, ManagerOptions{})
	if has, _ := m.HasData(); has {
		t.Fatal("empty data dir has data")
	}
	for i, name := range []string{"a", "b", "c"} {
		l, err := m.GetOrCreate(name, 0, [16]byte{byte(i + 1)}, Config{})
		if err != nil {
			t.Fatal(err)
		}
		mustAppend(t, l, simpleBatch(1, 10, 1000), 0)
	}
	os.MkdirAll(filepath.Join(dir, "etcd"), 0o755) // not a partition
	if has, _ := m.HasData(); !has {
		t.Fatal("HasData false with partitions")
	}
	dirs, err := m.Scan()
	if err != nil || len(dirs) != 3 || dirs[1].Topic != "b" || dirs[1].TopicID != ([16]byte{2}) {
		t.Fatalf("Scan: %+v %v", dirs, err)
	}
	// An open log is never handed out for another topic id.
	if _, err := m.GetOrCreate("a", 0, [16]byte{9}, Config{}); !errors.Is(err, ErrTopicIDMismatch) {
		t.Fatalf("GetOrCreate with another id: %v", err)
	}
	stray, err := m.MarkStray("a", 0)
	if err != nil || !strings.HasSuffix(stray, strayDirSuffix) {
		t.Fatalf("MarkStray: %q %v", stray, err)
	}
	if _, err := os.Stat(filepath.Join(stray, "00000000000000000000.log")); err != nil {
		t.Fatalf("stray lost its segment: %v", err)
	}
	if err := m.Delete("b", 0, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete("c", 0, 0); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		matches, _ := filepath.Glob(filepath.Join(dir, "c-0.*-delete"))
		if len(matches) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("c-0 not removed with no delay")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "b-0.*-delete")); len(matches) != 1 {
		t.Fatalf("b-0 removed before its delay, or not renamed: %v", matches)
	}
	if dirs, _ := m.Scan(); len(dirs) != 0 {
		t.Fatalf("Scan lists set-aside directories: %+v", dirs)
	}
	m.Close()

	// A restart keeps the stray, and finishes the pending deletion only
	// after the delay.
	m = testManager(t, dir, ManagerOptions{FileDeleteDelay: time.Hour})
	if matches, _ := filepath.Glob(filepath.Join(dir, "*-stray")); len(matches) != 1 {
		t.Fatalf("stray after restart: %v", matches)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "b-0.*-delete")); len(matches) != 1 {
		t.Fatalf("pending deletion finished early at restart: %v", matches)
	}
}

func TestManagerOpenAllInParallel(t *testing.T) {
	dir := t.TempDir()
	m := testManager(t, dir, ManagerOptions{})
	var reqs []OpenRequest
	for i := range 20 {
		reqs = append(reqs, OpenRequest{Topic: "t", Partition: int32(i), TopicID: [16]byte{1}})
	}
	logs, errs := m.OpenAll(reqs, 4)
	for i := range reqs {
		if errs[i] != nil || logs[i] == nil || m.Get("t", int32(i)) != logs[i] {
			t.Fatalf("open %d: %v", i, errs[i])
		}
	}
	// The same request again returns the open logs.
	again, _ := m.OpenAll(reqs, 4)
	for i := range reqs {
		if again[i] != logs[i] {
			t.Fatalf("reopen %d returned another log", i)
		}
	}
	if id, err := m.DirTopicID("t", 3); err != nil || id != ([16]byte{1}) {
		t.Fatalf("DirTopicID: %x %v", id, err)
	}
}

// barrierFS holds every open of a ".log" file until n of them are under way
// at once (or a deadline passes, which fails the open): OpenAll with n
// threads gets through, a serial open would not.
type barrierFS struct {
	OSFS
	n       int
	mu      sync.Mutex
	waiting int
	release chan struct{}
}

func (f *barrierFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if strings.HasSuffix(name, ".log") && flag&os.O_RDWR != 0 {
		f.mu.Lock()
		f.waiting++
		if f.waiting == f.n {
			close(f.release)
		}
		f.mu.Unlock()
		select {
		case <-f.release:
		case <-time.After(5 * time.Second):
			return nil, errors.New("barrierFS: opens did not run concurrently")
		}
	}
	return f.OSFS.OpenFile(name, flag, perm)
}

func TestManagerOpenAllRunsThreadsAtOnce(t *testing.T) {
	const threads = 4
	m := testManager(t, t.TempDir(), ManagerOptions{FS: &barrierFS{n: threads, release: make(chan struct{})}})
	var reqs []OpenRequest
	for i := range threads {
		reqs = append(reqs, OpenRequest{Topic: "p", Partition: int32(i), TopicID: [16]byte{1}})
	}
	_, errs := m.OpenAll(reqs, threads)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
	}
}
