package broker

// Data safety at start-up and in the reconciler: the data directory belongs
// to one cluster (meta.properties), nothing on disk is deleted unless etcd
// records a deletion, strays are set aside, delete and re-create are never
// confused. (Offline partitions: offline_test.go.)

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/samsa-io/samsa/broker/config"
	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/storage"
)

// tryStartBroker is startTestBrokerIn that returns Start's error instead of
// failing the test.
func tryStartBroker(t *testing.T, dir string, overrides ...string) (*Broker, string, error) {
	t.Helper()
	return tryStartBrokerLog(t, dir, nil, overrides...)
}

// tryStartBrokerLog is tryStartBroker with the broker's JSON log lines
// also written to w (nil: none).
func tryStartBrokerLog(t *testing.T, dir string, w io.Writer, overrides ...string) (*Broker, string, error) {
	t.Helper()
	props := map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": dir}
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			t.Fatalf("bad override %q", o)
		}
		props[k] = v
	}
	cfg, err := config.NewBroker(props)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logger := zerolog.Nop()
	if os.Getenv("SAMSA_TEST_LOG") != "" {
		logger = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Logger()
	}
	if w != nil {
		logger = zerolog.New(w).With().Timestamp().Logger()
	}
	b, err := New(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		return nil, "", err
	}
	t.Cleanup(func() { b.Close() })
	return b, b.Addrs()[0].String(), nil
}

// produceRecords produces values to partition 0 of topic, acks=all, and
// fails on any error.
func produceRecords(t *testing.T, addr, topic string, values ...string) {
	t.Helper()
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	for _, v := range values {
		if err := cl.ProduceSync(testCtx(t), &kgo.Record{Topic: topic, Partition: 0, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce %q to %s: %v", v, topic, err)
		}
	}
}

// readValues consumes partition 0 of topic from the start up to its end.
func readValues(t *testing.T, addr, topic string, n int) []string {
	t.Helper()
	var out []string
	for _, r := range consumeN(t, addr, topic, n) {
		out = append(out, string(r.Value))
	}
	return out
}

// externalEtcd starts an etcd for brokers to share as an external one (a
// Store with its own embedded etcd, in the test process) and returns its
// endpoint and the Store, which tests use to change etcd while brokers are
// down.
func externalEtcd(t *testing.T) (string, *coordinator.Store) {
	t.Helper()
	s, err := coordinator.Open(testCtx(t), coordinator.Config{EmbeddedDir: t.TempDir(), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.EmbeddedEndpoint(), s
}

// dirNames lists the entries of dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func hasEntry(names []string, pred func(string) bool) bool {
	for _, n := range names {
		if pred(n) {
			return true
		}
	}
	return false
}

func TestMetaPropertiesWrittenOnFirstStart(t *testing.T) {
	dir := t.TempDir()
	b, _ := startTestBrokerIn(t, dir, "node.id=7")
	mp, ok, err := storage.ReadMetaProperties(nil, dir)
	if err != nil || !ok {
		t.Fatalf("meta.properties: ok=%v err=%v", ok, err)
	}
	if mp.ClusterID != b.Store().ClusterID() || mp.NodeID != 7 || mp.DirectoryID == "" {
		t.Fatalf("meta.properties = %+v, cluster %s", mp, b.Store().ClusterID())
	}
	raw, _ := os.ReadFile(filepath.Join(dir, storage.MetaPropertiesFile))
	if !strings.Contains(string(raw), "version=1\n") {
		t.Fatalf("meta.properties lacks version=1:\n%s", raw)
	}
	b.Close()
	// A restart keeps the same file and cluster.
	b2, _ := startTestBrokerIn(t, dir, "node.id=7")
	if b2.Store().ClusterID() != mp.ClusterID {
		t.Fatalf("restart: cluster %s, want %s", b2.Store().ClusterID(), mp.ClusterID)
	}
	if again, _, _ := storage.ReadMetaProperties(nil, dir); again != mp {
		t.Fatalf("restart rewrote meta.properties: %+v -> %+v", mp, again)
	}
}

// The scenario of the issue: produce, stop, lose the embedded etcd, start
// again. samsa must refuse, keep the data, and adopt it only when asked.
func TestEtcdLostRefusesThenAdopts(t *testing.T) {
	dir := t.TempDir()
	b, addr := startTestBrokerIn(t, dir)
	cluster := b.Store().ClusterID()
	createTopic(t, addr, "kept", 2, nil)
	produceRecords(t, addr, "kept", "one", "two", "three")
	topicID := b.Store().Snapshot().Topic("kept").Info.ID
	b.Close()

	if err := os.RemoveAll(filepath.Join(dir, "etcd")); err != nil {
		t.Fatal(err)
	}
	_, _, err := tryStartBroker(t, dir)
	if !errors.Is(err, ErrDataDirRefused) {
		t.Fatalf("start with a wiped etcd: %v, want ErrDataDirRefused", err)
	}
	if msg := err.Error(); !strings.Contains(msg, cluster) || !strings.Contains(msg, "samsa.adopt.existing.data") {
		t.Fatalf("refusal does not name the cluster id and the way out: %v", err)
	}
	names := dirNames(t, dir)
	if !hasEntry(names, func(n string) bool { return n == "kept-0" }) || !hasEntry(names, func(n string) bool { return n == "kept-1" }) {
		t.Fatalf("partition directories gone after a refused start: %v", names)
	}

	b, addr = startTestBrokerIn(t, dir, "samsa.adopt.existing.data=true")
	if got := b.Store().ClusterID(); got != cluster {
		t.Fatalf("adopted cluster id %s, want %s (from meta.properties)", got, cluster)
	}
	tm := b.Store().Snapshot().Topic("kept")
	if tm == nil || tm.Info.ID != topicID || len(tm.Partitions) != 2 {
		t.Fatalf("adopted topic: %+v, want id %s and 2 partitions", tm, topicID)
	}
	if tm.Partitions[0].LeaderEpoch < 1 {
		t.Fatalf("adopted leader epoch %d: must be past the epochs in the log (0)", tm.Partitions[0].LeaderEpoch)
	}
	if got := readValues(t, addr, "kept", 3); strings.Join(got, ",") != "one,two,three" {
		t.Fatalf("records after adoption: %v", got)
	}
	produceRecords(t, addr, "kept", "four")
	if got := readValues(t, addr, "kept", 4); strings.Join(got, ",") != "one,two,three,four" {
		t.Fatalf("records after a produce on the adopted topic: %v", got)
	}
}

func TestOtherPrefixRefused(t *testing.T) {
	dir := t.TempDir()
	b, addr := startTestBrokerIn(t, dir)
	produceRecords(t, addr, "t", "a")
	b.Close()
	if _, _, err := tryStartBroker(t, dir, "etcd.prefix=/elsewhere/"); !errors.Is(err, ErrDataDirRefused) {
		t.Fatalf("start under another etcd prefix: %v, want ErrDataDirRefused", err)
	}
	// The original prefix still works and has the data.
	_, addr = startTestBrokerIn(t, dir)
	if got := readValues(t, addr, "t", 1); got[0] != "a" {
		t.Fatalf("records: %v", got)
	}
}

func TestNodeIDMismatchRefused(t *testing.T) {
	dir := t.TempDir()
	b, _ := startTestBrokerIn(t, dir, "node.id=1")
	b.Close()
	_, _, err := tryStartBroker(t, dir, "node.id=2")
	// The message names both node ids and what to do.
	if !errors.Is(err, ErrDataDirRefused) || !strings.Contains(err.Error(), "node.id 1") ||
		!strings.Contains(err.Error(), "this broker is node.id 2") || !strings.Contains(err.Error(), "--broker-id 1") {
		t.Fatalf("start as node 2 on node 1's data: %v", err)
	}
}

func TestForeignClusterRefused(t *testing.T) {
	endpoint, other := externalEtcd(t) // holds cluster Y
	dir := t.TempDir()
	b, _ := startTestBrokerIn(t, dir) // embedded etcd: cluster X
	x := b.Store().ClusterID()
	b.Close()
	_, _, err := tryStartBroker(t, dir, "etcd.endpoints="+endpoint)
	var y string
	if err != nil {
		y = strings.TrimSpace(err.Error())
	}
	// The message names both clusters and what to do.
	if !errors.Is(err, ErrDataDirRefused) || !strings.Contains(y, x) || !strings.Contains(y, other.ClusterID()) ||
		!strings.Contains(y, "point samsa at the etcd of cluster "+x) {
		t.Fatalf("start on another cluster's etcd: %v; want a message naming %s and %s and the way out", err, x, other.ClusterID())
	}
}

func TestDataWithoutMetaPropertiesAndEmptyEtcdRefused(t *testing.T) {
	dir := t.TempDir()
	b, addr := startTestBrokerIn(t, dir)
	produceRecords(t, addr, "old", "x", "y")
	b.Close()
	// A data directory without meta.properties (as written before samsa
	// had it, or copied from elsewhere) next to an empty etcd.
	os.Remove(filepath.Join(dir, storage.MetaPropertiesFile))
	os.RemoveAll(filepath.Join(dir, "etcd"))
	if _, _, err := tryStartBroker(t, dir); !errors.Is(err, ErrDataDirRefused) {
		t.Fatalf("start: %v, want ErrDataDirRefused", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "old-0", "00000000000000000000.log")); err != nil {
		t.Fatalf("segment gone after a refused start: %v", err)
	}
	_, addr = startTestBrokerIn(t, dir, "samsa.adopt.existing.data=true")
	if got := readValues(t, addr, "old", 2); strings.Join(got, ",") != "x,y" {
		t.Fatalf("records after adoption: %v", got)
	}
}

// A data directory from before meta.properties, with its etcd intact,
// starts and gets the file (the upgrade path).
func TestDataFromBeforeMetaPropertiesUpgrades(t *testing.T) {
	dir := t.TempDir()
	b, addr := startTestBrokerIn(t, dir)
	cluster := b.Store().ClusterID()
	produceRecords(t, addr, "up", "x")
	b.Close()
	os.Remove(filepath.Join(dir, storage.MetaPropertiesFile))
	_, addr = startTestBrokerIn(t, dir)
	if mp, ok, _ := storage.ReadMetaProperties(nil, dir); !ok || mp.ClusterID != cluster {
		t.Fatalf("meta.properties after the upgrade start: %+v %v", mp, ok)
	}
	if got := readValues(t, addr, "up", 1); got[0] != "x" {
		t.Fatalf("records: %v", got)
	}
}

// A directory whose topic id the cluster does not know is set aside as
// stray, with its data, never deleted.
func TestStrayDirectorySetAside(t *testing.T) {
	dir := t.TempDir()
	b, addr := startTestBrokerIn(t, dir)
	produceRecords(t, addr, "mine", "m")
	b.Close()
	// A partition directory of another cluster's topic appears.
	l, err := storage.Open(filepath.Join(dir, "foreign-0"), [16]byte{1, 2, 3}, storage.Config{}, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	// And one whose partition.metadata cannot be read.
	garbled := filepath.Join(dir, "garbled-0")
	if err := os.MkdirAll(garbled, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(garbled, "partition.metadata"), []byte("not a partition.metadata\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	_, addr, err = tryStartBrokerLog(t, dir, &logs)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(garbled, "partition.metadata")); err != nil || string(got) != "not a partition.metadata\n" {
		t.Fatalf("the directory with an unreadable partition.metadata was touched: %q %v", got, err)
	}
	if !logs.hasLine("error", "unreadable partition.metadata", "garbled-0") {
		t.Errorf("no error line names garbled-0's unreadable partition.metadata:\n%s", logs.String())
	}
	names := dirNames(t, dir)
	var stray string
	for _, n := range names {
		if strings.HasPrefix(n, "foreign-0.") && strings.HasSuffix(n, "-stray") {
			stray = n
		}
	}
	if stray == "" || hasEntry(names, func(n string) bool { return n == "foreign-0" }) {
		t.Fatalf("foreign-0 not set aside as stray: %v", names)
	}
	if _, err := os.Stat(filepath.Join(dir, stray, "partition.metadata")); err != nil {
		t.Fatalf("stray directory lost its files: %v", err)
	}
	if !logs.hasLine("warn", "set aside as stray", stray) {
		t.Errorf("no warn line names the stray directory %s:\n%s", stray, logs.String())
	}
	if got := readValues(t, addr, "mine", 1); got[0] != "m" {
		t.Fatalf("records of the known topic: %v", got)
	}
}

// A topic that vanishes from etcd while the broker runs, without a
// tombstone (keys removed by hand, an older etcd restored), is not deleted:
// its directory is set aside as stray, with a warn line, and keeps its
// records.
func TestTopicVanishedWithoutTombstoneSetAsideWhileRunning(t *testing.T) {
	endpoint, etcd := externalEtcd(t)
	dir := t.TempDir()
	var logs lockedBuffer
	b, addr, err := tryStartBrokerLog(t, dir, &logs, "etcd.endpoints="+endpoint)
	if err != nil {
		t.Fatal(err)
	}
	produceRecords(t, addr, "vanish", "v1", "v2")
	produceRecords(t, addr, "stays", "s")
	id := b.Store().Snapshot().Topic("vanish").Info.ID
	if _, err := etcd.Client().Delete(testCtx(t), etcd.Key("topics", "vanish")); err != nil {
		t.Fatal(err)
	}
	if _, err := etcd.Client().Delete(testCtx(t), etcd.Key("partitions", id.String())+"/", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	var stray string
	waitFor(t, "vanish-0 set aside as stray", func() bool {
		for _, n := range dirNames(t, dir) {
			if strings.HasPrefix(n, "vanish-0.") && strings.HasSuffix(n, "-stray") {
				stray = n
				return true
			}
		}
		return false
	})
	for _, n := range dirNames(t, dir) {
		if n == "vanish-0" || strings.HasSuffix(n, "-delete") {
			t.Fatalf("vanish-0 deleted or still in place: %v", dirNames(t, dir))
		}
	}
	// The line follows the rename.
	if !waitUntil(10*time.Second, func() bool { return logs.hasLine("warn", "set aside as stray", stray) }) {
		t.Errorf("no warn line names %s:\n%s", stray, logs.String())
	}
	// The records are all still there.
	l, err := storage.Open(filepath.Join(dir, stray), [16]byte(id), storage.Config{}, storage.Options{})
	if err != nil {
		t.Fatalf("opening the stray log: %v", err)
	}
	defer l.Close()
	if leo := l.LogEndOffset(); leo != 2 {
		t.Fatalf("stray log end offset %d, want 2", leo)
	}
	if got := readValues(t, addr, "stays", 1); got[0] != "s" {
		t.Fatalf("records of the other topic: %v", got)
	}
}

// lockedBuffer collects log lines written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// hasLine reports whether a JSON log line of level holds every one of
// the strings.
func (b *lockedBuffer) hasLine(level string, subs ...string) bool {
	for _, l := range strings.Split(b.String(), "\n") {
		if !strings.Contains(l, `"level":"`+level+`"`) {
			continue
		}
		all := true
		for _, s := range subs {
			all = all && strings.Contains(l, s)
		}
		if all {
			return true
		}
	}
	return false
}

// A topic deleted while the broker was down is deleted at start (its
// tombstone is in etcd), through -delete and file.delete.delay.ms; the
// tombstone goes once the broker confirmed.
func TestTopicDeletedWhileDownIsDeletedAtStart(t *testing.T) {
	endpoint, etcd := externalEtcd(t)
	dir := t.TempDir()
	b, addr := startTestBrokerIn(t, dir, "etcd.endpoints="+endpoint, "log.segment.delete.delay.ms=60000")
	produceRecords(t, addr, "gone", "g")
	produceRecords(t, addr, "stays", "s")
	id := b.Store().Snapshot().Topic("gone").Info.ID
	b.Close()
	if _, err := etcd.DeleteTopic(testCtx(t), "gone"); err != nil {
		t.Fatal(err)
	}
	_, addr = startTestBrokerIn(t, dir, "etcd.endpoints="+endpoint, "log.segment.delete.delay.ms=60000")
	names := dirNames(t, dir)
	if hasEntry(names, func(n string) bool { return n == "gone-0" }) ||
		!hasEntry(names, func(n string) bool { return strings.HasPrefix(n, "gone-0.") && strings.HasSuffix(n, "-delete") }) {
		t.Fatalf("gone-0 not renamed for deletion (and kept for file.delete.delay.ms): %v", names)
	}
	if got := readValues(t, addr, "stays", 1); got[0] != "s" {
		t.Fatalf("records of the other topic: %v", got)
	}
	waitFor(t, "tombstone confirmed", func() bool {
		_, pending := etcd.Snapshot().DeletedTopics[id]
		return !pending
	})
}

// file.delete.delay.ms: a deleted topic's directory is renamed at once and
// removed only after the delay.
func TestDeleteTopicHonoursFileDeleteDelay(t *testing.T) {
	dir := t.TempDir()
	_, addr := startTestBrokerIn(t, dir)
	adm := kadm.NewClient(newClient(t, addr))
	for _, tc := range []struct {
		topic string
		delay string
	}{{"slow", "60000"}, {"fast", "0"}} {
		createTopic(t, addr, tc.topic, 1, map[string]*string{"file.delete.delay.ms": &tc.delay})
		produceRecords(t, addr, tc.topic, "v")
		resp, err := adm.DeleteTopics(testCtx(t), tc.topic)
		if err != nil || resp[tc.topic].Err != nil {
			t.Fatalf("delete %s: %v %v", tc.topic, err, resp[tc.topic].Err)
		}
	}
	deleting := func(topic string) bool {
		return hasEntry(dirNames(t, dir), func(n string) bool { return strings.HasPrefix(n, topic+"-0.") && strings.HasSuffix(n, "-delete") })
	}
	waitFor(t, "fast's directory removed", func() bool { return !deleting("fast") })
	if !deleting("slow") {
		t.Fatalf("slow-0's directory removed before its 60 s file.delete.delay.ms: %v", dirNames(t, dir))
	}
	if hasEntry(dirNames(t, dir), func(n string) bool { return n == "slow-0" || n == "fast-0" }) {
		t.Fatalf("deleted partition directories still in place: %v", dirNames(t, dir))
	}
}

// A topic deleted and re-created under the same name, seen by one reconcile
// run or by two: the new topic id's log serves, the old data is deleted,
// and nothing binds the new partition to the old log.
func TestDeleteAndRecreateNeverConfused(t *testing.T) {
	for _, oneRun := range []bool{true, false} {
		t.Run(fmt.Sprintf("one_run=%v", oneRun), func(t *testing.T) {
			dir := t.TempDir()
			b, addr := startTestBrokerIn(t, dir, "log.segment.delete.delay.ms=60000")
			produceRecords(t, addr, "again", "old-1", "old-2")
			store := b.Store()
			oldID := store.Snapshot().Topic("again").Info.ID
			ctx := testCtx(t)
			if oneRun {
				b.reconcileMu.Lock() // the reconciler sees both changes at once
			}
			rev, err := store.DeleteTopic(ctx, "again")
			if err != nil {
				t.Fatal(err)
			}
			if !oneRun {
				if err := b.waitApplied(ctx, rev); err != nil {
					t.Fatal(err)
				}
			}
			rev, err = store.CreateTopic(ctx, coordinator.TopicInfo{Name: "again", Replicas: [][]int32{{b.cfg.BrokerID}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := store.WaitForRevision(ctx, rev); err != nil {
				t.Fatal(err)
			}
			if oneRun {
				b.reconcileMu.Unlock()
			}
			if err := b.waitApplied(ctx, rev); err != nil {
				t.Fatal(err)
			}
			newID := store.Snapshot().Topic("again").Info.ID
			if newID == oldID {
				t.Fatal("re-created topic has the old id")
			}
			p := b.partition("again", 0)
			if p == nil || p.topicID != newID || p.log == nil || p.log.TopicID() != newID || p.log.LogEndOffset() != 0 {
				t.Fatalf("partition after re-create: %+v", p)
			}
			produceRecords(t, addr, "again", "new-1")
			if got := readValues(t, addr, "again", 1); len(got) != 1 || got[0] != "new-1" {
				t.Fatalf("records of the re-created topic: %v", got)
			}
			names := dirNames(t, dir)
			if !hasEntry(names, func(n string) bool { return strings.HasPrefix(n, "again-0.") && strings.HasSuffix(n, "-delete") }) {
				t.Fatalf("old data not on the delete path: %v", names)
			}
			if hasEntry(names, func(n string) bool { return strings.HasSuffix(n, "-stray") }) {
				t.Fatalf("old data set aside as stray, though its deletion is recorded: %v", names)
			}
		})
	}
}

// waitFor polls cond for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitUntil is waitFor that reports instead of failing: false when cond
// is still false after d.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
