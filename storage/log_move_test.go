package storage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func moveManager(t *testing.T, dirs []string, kill func(string) error) *Manager {
	t.Helper()
	m, err := NewManagerDirs(dirs, ManagerOptions{moveKill: kill, FileDeleteDelay: -1,
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// moveCfg rolls a segment every two batches of simpleBatch(2, 100, ..).
func moveCfg() Config {
	return Config{SegmentBytes: int64(2*len(simpleBatch(2, 100, 1)) + 1), FileDeleteDelay: -1}
}

// partitionDirsOf lists the directories named for t-0 (or set aside from
// it) in dirs.
func partitionDirsOf(t *testing.T, dirs ...string) []string {
	t.Helper()
	var out []string
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.IsDir() && strings.HasPrefix(e.Name(), "t-0") {
				out = append(out, filepath.Join(d, e.Name()))
			}
		}
	}
	return out
}

// A log moves to another directory while producers append: every byte
// acknowledged before and during the move is read back, from the new
// directory, also after a restart; the old directory is gone.
func TestMoveLogOnline(t *testing.T) {
	root := t.TempDir()
	d1, d2 := filepath.Join(root, "d1"), filepath.Join(root, "d2")
	m := moveManager(t, []string{d1, d2}, nil)
	l, err := m.GetOrCreate("t", 0, [16]byte{1}, moveCfg())
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(l.Dir()) != d1 {
		t.Fatalf("created in %s", l.Dir())
	}
	for range 20 {
		mustAppend(t, l, simpleBatch(2, 100, 1), 0)
	}
	before := readLogBytes(t, l)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var appended atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if _, err := l.Append(simpleBatch(2, 100, 1), 0, -1); err != nil {
				t.Errorf("append during the move: %v", err)
				return
			}
			appended.Add(1)
		}
	}()
	if err := m.MoveLog("t", 0, d2); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		mustAppend(t, l, simpleBatch(2, 100, 1), 0)
	}
	stop.Store(true)
	wg.Wait()
	if filepath.Dir(l.Dir()) != d2 || m.LogDirOf("t", 0) != d2 {
		t.Fatalf("after the move the log is in %s (manager: %s)", l.Dir(), m.LogDirOf("t", 0))
	}
	// The source is set aside at once and removed in the background.
	var got []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got = partitionDirsOf(t, d1, d2); len(got) == 1 {
			break
		}
	}
	if len(got) != 1 || got[0] != PartitionDir(d2, "t", 0) {
		t.Fatalf("partition directories after the move: %v", got)
	}
	wantLEO := int64(2 * (20 + 5 + appended.Load()))
	if l.LogEndOffset() != wantLEO {
		t.Fatalf("LEO %d, want %d", l.LogEndOffset(), wantLEO)
	}
	after := readLogBytes(t, l)
	if !bytes.HasPrefix(after, before) {
		t.Fatal("the bytes from before the move changed")
	}
	m.Close()

	m = moveManager(t, []string{d1, d2}, nil)
	l, err = m.GetOrCreate("t", 0, [16]byte{1}, moveCfg())
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(l.Dir()) != d2 || l.LogEndOffset() != wantLEO || !bytes.Equal(readLogBytes(t, l), after) {
		t.Fatalf("after a restart: %s, LEO %d (want %d), same bytes %v", l.Dir(), l.LogEndOffset(), wantLEO,
			bytes.Equal(readLogBytes(t, l), after))
	}
	mustAppend(t, l, simpleBatch(1, 10, 1), 0)
	// Deleting the moved partition deletes its new directory.
	if err := m.MoveLog("t", 0, d1); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete("t", 0, -1); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{d1, d2} {
		if _, err := os.Stat(PartitionDir(d, "t", 0)); !os.IsNotExist(err) {
			t.Fatalf("deleted partition still in %s: %v", d, err)
		}
	}
}

// A move killed at any step (as by a crash) loses nothing: after a
// restart the log opens once, in one directory, with every byte.
func TestMoveLogKilledAtEachStep(t *testing.T) {
	for _, step := range []string{"closed segments copied", "copy complete", "copy in place", "switched"} {
		t.Run(strings.ReplaceAll(step, " ", "-"), func(t *testing.T) {
			root := t.TempDir()
			d1, d2 := filepath.Join(root, "d1"), filepath.Join(root, "d2")
			m := moveManager(t, []string{d1, d2}, func(s string) error {
				if s == step {
					return errMoveKilled
				}
				return nil
			})
			l, err := m.GetOrCreate("t", 0, [16]byte{1}, moveCfg())
			if err != nil {
				t.Fatal(err)
			}
			for range 9 {
				mustAppend(t, l, simpleBatch(2, 100, 1), 0)
			}
			want := readLogBytes(t, l)
			err = m.MoveLog("t", 0, d2)
			if step == "switched" {
				if err != nil || filepath.Dir(l.Dir()) != d2 {
					t.Fatalf("killed after the switch: %v, log in %s", err, l.Dir())
				}
			} else if !errors.Is(err, errMoveKilled) {
				t.Fatalf("MoveLog: %v, want the kill", err)
			}
			m.Close()

			m = moveManager(t, []string{d1, d2}, nil)
			l, err = m.GetOrCreate("t", 0, [16]byte{1}, moveCfg())
			if err != nil {
				t.Fatal(err)
			}
			if l.LogEndOffset() != 18 || !bytes.Equal(readLogBytes(t, l), want) {
				t.Fatalf("after the kill and a restart: LEO %d, same bytes %v", l.LogEndOffset(), bytes.Equal(readLogBytes(t, l), want))
			}
			var live []string
			for _, d := range partitionDirsOf(t, d1, d2) {
				if !strings.HasSuffix(d, deleteDirSuffix) && !strings.HasSuffix(d, futureDirSuffix) {
					live = append(live, d)
				}
			}
			if len(live) != 1 {
				t.Fatalf("partition directories: %v", partitionDirsOf(t, d1, d2))
			}
			if exists(OSFS{}, filepath.Join(live[0], movedMarkerFile)) {
				t.Fatal("move marker left behind")
			}
			// The log moves once the kill is gone.
			other := d2
			if filepath.Dir(l.Dir()) == d2 {
				other = d1
			}
			if err := m.MoveLog("t", 0, other); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(readLogBytes(t, l), want) || filepath.Dir(l.Dir()) != other {
				t.Fatal("second move lost bytes")
			}
		})
	}
}

// A truncation between the copy of the closed segments and the switch
// (a follower cutting to its leader's epoch, then appending the leader's
// batches) rewrites a segment the first pass copied: the moved log has the
// new bytes, not the copied ones.
func TestMoveLogRecopiesAfterTruncation(t *testing.T) {
	root := t.TempDir()
	d1, d2 := filepath.Join(root, "d1"), filepath.Join(root, "d2")
	var l *Log
	var want []byte
	m := moveManager(t, []string{d1, d2}, func(step string) error {
		if step != "closed segments copied" {
			return nil
		}
		if err := l.TruncateTo(2); err != nil {
			return err
		}
		for range 7 {
			if _, err := l.Append(simpleBatch(2, 100, 999), 1, -1); err != nil {
				return err
			}
		}
		want = readLogBytes(t, l)
		return nil
	})
	var err error
	if l, err = m.GetOrCreate("t", 0, [16]byte{1}, moveCfg()); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		mustAppend(t, l, simpleBatch(2, 100, 1), 0)
	}
	if err := m.MoveLog("t", 0, d2); err != nil {
		t.Fatal(err)
	}
	if got := readLogBytes(t, l); !bytes.Equal(got, want) || l.LogEndOffset() != 16 {
		t.Fatalf("moved log: LEO %d, bytes equal to the truncated and rewritten log: %v", l.LogEndOffset(), bytes.Equal(got, want))
	}
	m.Close()
	m = moveManager(t, []string{d1, d2}, nil)
	if l, err = m.GetOrCreate("t", 0, [16]byte{1}, moveCfg()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readLogBytes(t, l), want) {
		t.Fatal("after a restart the moved log holds other bytes")
	}
}

// Moves lists a move while it runs, with what was copied so far (the
// future replica of DescribeLogDirs), and forgets it once done.
func TestMoveLogProgress(t *testing.T) {
	root := t.TempDir()
	d1, d2 := filepath.Join(root, "d1"), filepath.Join(root, "d2")
	var m *Manager
	var during map[TopicPartition]MoveState
	m = moveManager(t, []string{d1, d2}, func(step string) error {
		if step == "closed segments copied" {
			during = m.Moves()
		}
		return nil
	})
	l, err := m.GetOrCreate("t", 0, [16]byte{1}, moveCfg())
	if err != nil {
		t.Fatal(err)
	}
	for range 7 {
		mustAppend(t, l, simpleBatch(2, 100, 1), 0)
	}
	active := l.ActiveSegmentBase()
	if err := m.MoveLog("t", 0, d2); err != nil {
		t.Fatal(err)
	}
	st, ok := during[TopicPartition{"t", 0}]
	if !ok || st.Dest != d2 || st.CopiedBytes <= 0 || st.CopiedEnd != active {
		t.Fatalf("during the move: %+v (listed %v), want dest %s, bytes copied, copied up to %d", st, ok, d2, active)
	}
	if len(m.Moves()) != 0 {
		t.Fatalf("after the move: %v", m.Moves())
	}
	// A second move of a log while one runs is refused.
	m.mu.Lock()
	m.moves[TopicPartition{"t", 0}] = &MoveState{Dest: d1}
	m.mu.Unlock()
	if err := m.MoveLog("t", 0, d1); !errors.Is(err, ErrMoveInProgress) {
		t.Fatalf("concurrent move: %v", err)
	}
}

// An empty log and one whose active segment was just rolled (empty) move
// too, and take appends afterwards.
func TestMoveLogEmptyActive(t *testing.T) {
	root := t.TempDir()
	d1, d2 := filepath.Join(root, "d1"), filepath.Join(root, "d2")
	m := moveManager(t, []string{d1, d2}, nil)
	l, err := m.GetOrCreate("t", 0, [16]byte{1}, moveCfg())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.MoveLog("t", 0, d2); err != nil {
		t.Fatalf("empty log: %v", err)
	}
	for range 4 {
		mustAppend(t, l, simpleBatch(2, 100, 1), 0)
	}
	if err := l.TruncateTo(4); err != nil { // keeps two segments
		t.Fatal(err)
	}
	want := readLogBytes(t, l)
	if err := m.MoveLog("t", 0, d1); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readLogBytes(t, l), want) || filepath.Dir(l.Dir()) != d1 {
		t.Fatal("moved log differs")
	}
	mustAppend(t, l, simpleBatch(2, 100, 1), 0)
	if l.LogEndOffset() != 6 {
		t.Fatalf("LEO %d", l.LogEndOffset())
	}
}
