package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestParsePartitionDir(t *testing.T) {
	tests := []struct {
		name string
		tp   TopicPartition
		ok   bool
	}{
		{"orders-0", TopicPartition{"orders", 0}, true},
		{"my-topic-with-dashes-12", TopicPartition{"my-topic-with-dashes", 12}, true},
		{"__consumer_offsets-49", TopicPartition{"__consumer_offsets", 49}, true},
		{"orders-0.0123abcd-delete", TopicPartition{}, false},
		{"orders", TopicPartition{}, false},
		{"orders-", TopicPartition{}, false},
		{"-1", TopicPartition{}, false},
		{"etcd", TopicPartition{}, false},
		{"t-99999999999", TopicPartition{}, false},
	}
	for _, tc := range tests {
		tp, ok := parsePartitionDir(tc.name)
		if ok != tc.ok || tp != tc.tp {
			t.Fatalf("%s: %+v %v", tc.name, tp, ok)
		}
	}
}

func TestManager(t *testing.T) {
	dataDir := t.TempDir()
	clock := &fakeClock{t: time.UnixMilli(10_000_000)}
	opts := ManagerOptions{Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), Now: clock.Now,
		RetentionCheckInterval: 5 * time.Millisecond, FlushCheckInterval: 5 * time.Millisecond}
	m, err := NewManager(dataDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	b := simpleBatch(2, 100, 10_000_000)
	cfg := Config{SegmentBytes: int64(2 * len(b)), RetentionMs: time.Minute, FileDeleteDelay: -1}
	l, err := m.GetOrCreate("a-b", 3, [16]byte{7}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := m.GetOrCreate("a-b", 3, [16]byte{7}, cfg); again != l || m.Get("a-b", 3) != l {
		t.Fatal("GetOrCreate must return the open log")
	}
	if m.Get("a-b", 4) != nil {
		t.Fatal("Get of unknown partition")
	}
	if _, err := m.GetOrCreate("x", 0, [16]byte{8}, Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "a-b-3", partitionMetadataFile)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ {
		mustAppend(t, l, simpleBatch(2, 100, 10_000_000), 0)
	}
	l.SetHighWatermark(l.LogEndOffset())
	got := m.Existing()
	sort.Slice(got, func(i, j int) bool { return got[i].Topic < got[j].Topic })
	if len(got) != 2 || got[0] != (TopicPartition{"a-b", 3}) || got[1] != (TopicPartition{"x", 0}) {
		t.Fatalf("Existing %+v", got)
	}
	// Background retention.
	m.Start()
	clock.Advance(time.Hour)
	deadline := time.Now().Add(5 * time.Second)
	for l.LogStartOffset() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if l.LogStartOffset() != 8 { // [0,4) and [4,8) go; [8,12) is active
		t.Fatalf("background retention: log start %d", l.LogStartOffset())
	}
	if err := m.Delete("x", 0, 0); err != nil {
		t.Fatal(err)
	}
	if got := m.Existing(); len(got) != 1 {
		t.Fatalf("Existing after Delete %+v", got)
	}
	if m.Get("x", 0) != nil {
		t.Fatal("deleted log still open")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dataDir)
	if len(ents) != 1 || ents[0].Name() != "a-b-3" {
		t.Fatalf("data dir after close: %v", ents)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "a-b-3", cleanShutdownFile)); err != nil {
		t.Fatal("Close must close logs cleanly")
	}
	// Reopen: the log comes back with its data.
	m, err = NewManager(dataDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err = m.GetOrCreate("a-b", 3, [16]byte{7}, cfg)
	if err != nil || l.LogEndOffset() != 12 || l.LogStartOffset() != 8 {
		t.Fatalf("reopen: %v", err)
	}
}

// CloseThreads closes every log cleanly, several at once, and returns the
// error of a log that could not be (its marker is not written).
func TestManagerCloseThreads(t *testing.T) {
	dataDir := t.TempDir()
	fsys := newFaultFS()
	opts := ManagerOptions{FS: fsys, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)}
	m, err := NewManager(dataDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	const n = 24
	for p := range int32(n) {
		l, err := m.GetOrCreate("t", p, [16]byte{9}, Config{})
		if err != nil {
			t.Fatal(err)
		}
		mustAppend(t, l, simpleBatch(2, 50, 1), 0)
	}
	bad := filepath.Join(dataDir, "t-7")
	fsys.setSyncErr(func(path string) error {
		if strings.HasPrefix(path, bad+string(filepath.Separator)) || path == bad {
			return errInjected
		}
		return nil
	})
	if err := m.CloseThreads(4); !errors.Is(err, errInjected) {
		t.Fatalf("CloseThreads: %v, want the injected fsync failure", err)
	}
	for p := range n {
		_, err := os.Stat(filepath.Join(dataDir, fmt.Sprintf("t-%d", p), cleanShutdownFile))
		if p == 7 && err == nil {
			t.Fatal("t-7 marked clean after its fsync failed")
		}
		if p != 7 && err != nil {
			t.Fatalf("t-%d not closed cleanly: %v", p, err)
		}
	}
	if m.Get("t", 0) != nil {
		t.Fatal("a log is still open after CloseThreads")
	}
}
