package broker

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/storage"
)

func describeLogDirs(t *testing.T, addr string) *kmsg.DescribeLogDirsResponse {
	t.Helper()
	req := kmsg.NewPtrDescribeLogDirsRequest()
	req.Version = 4
	resp, err := askAddr(addr, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.(*kmsg.DescribeLogDirsResponse)
}

// logDirPartitions maps "topic-partition" to the directory DescribeLogDirs
// lists it in (future replicas left out).
func logDirPartitions(t *testing.T, r *kmsg.DescribeLogDirsResponse) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range r.Dirs {
		for _, rt := range d.Topics {
			for _, p := range rt.Partitions {
				if p.IsFuture {
					continue // a move in progress
				}
				k := rt.Topic + "-" + itoa(p.Partition)
				if prev, dup := out[k]; dup {
					t.Fatalf("%s listed in %s and %s", k, prev, d.Dir)
				}
				out[k] = d.Dir
			}
		}
	}
	return out
}

func itoa(p int32) string { return strconv.Itoa(int(p)) }

func produceTo(t *testing.T, addr, topic string, partition int32, values ...string) {
	t.Helper()
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for _, v := range values {
		if err := cl.ProduceSync(testCtx(t), &kgo.Record{Topic: topic, Partition: partition, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce to %s-%d: %v", topic, partition, err)
		}
	}
}

// With two log.dirs each gets its own meta.properties (one cluster, one
// node, two directory ids); partitions are spread over both; DescribeLogDirs
// lists both with the partitions each holds; a restart finds every
// partition, with its records, where it was.
func TestLogDirsTwo(t *testing.T) {
	root := t.TempDir()
	d1, d2 := filepath.Join(root, "d1"), filepath.Join(root, "d2")
	b, addr := startTestBrokerIn(t, d1, "log.dirs="+d1+","+d2)
	createTopic(t, addr, "spread", 4, nil)
	for p := range int32(4) {
		produceTo(t, addr, "spread", p, "a", "b")
	}
	m1, ok1, err1 := storage.ReadMetaProperties(nil, d1)
	m2, ok2, err2 := storage.ReadMetaProperties(nil, d2)
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		t.Fatalf("meta.properties: %v %v %v %v", ok1, err1, ok2, err2)
	}
	if m1.ClusterID != b.Store().ClusterID() || m2.ClusterID != m1.ClusterID || m1.NodeID != m2.NodeID ||
		m1.DirectoryID == "" || m2.DirectoryID == "" || m1.DirectoryID == m2.DirectoryID {
		t.Fatalf("meta.properties: %+v %+v (cluster %s)", m1, m2, b.Store().ClusterID())
	}
	r := describeLogDirs(t, addr)
	if len(r.Dirs) != 2 || r.Dirs[0].Dir != d1 || r.Dirs[1].Dir != d2 || r.Dirs[0].ErrorCode != 0 || r.Dirs[1].ErrorCode != 0 {
		t.Fatalf("DescribeLogDirs dirs: %+v", r.Dirs)
	}
	where := logDirPartitions(t, r)
	count := map[string]int{}
	for p := range int32(4) {
		k := "spread-" + itoa(p)
		d := where[k]
		if d == "" {
			t.Fatalf("%s not listed: %v", k, where)
		}
		if _, err := os.Stat(storage.PartitionDir(d, "spread", p)); err != nil {
			t.Fatalf("%s listed in %s but not there: %v", k, d, err)
		}
		if got := b.hosted("spread", p).log.Size(); got == 0 {
			t.Fatalf("%s empty", k)
		}
	}
	for _, d := range where {
		count[d]++
	}
	if diff := count[d1] - count[d2]; diff > 1 || diff < -1 {
		t.Fatalf("partitions not spread: %v", count)
	}
	b.Close()

	b, addr = startTestBrokerIn(t, d1, "log.dirs="+d1+","+d2)
	if a1, _, _ := storage.ReadMetaProperties(nil, d1); a1 != m1 {
		t.Fatalf("restart rewrote %s/meta.properties: %+v -> %+v", d1, m1, a1)
	}
	if a2, _, _ := storage.ReadMetaProperties(nil, d2); a2 != m2 {
		t.Fatalf("restart rewrote %s/meta.properties: %+v -> %+v", d2, m2, a2)
	}
	again := logDirPartitions(t, describeLogDirs(t, addr))
	for k, d := range where {
		if again[k] != d {
			t.Fatalf("after a restart %s is in %q, was in %s", k, again[k], d)
		}
	}
	for p := range int32(4) {
		if leo := b.hosted("spread", p).log.LogEndOffset(); leo != 2 {
			t.Fatalf("spread-%d LEO %d after restart, want 2", p, leo)
		}
	}
}

// A second log directory of another node or another cluster refuses the
// start, as the first one would.
func TestLogDirsForeignSecondDirRefused(t *testing.T) {
	root := t.TempDir()
	d1, d2 := filepath.Join(root, "d1"), filepath.Join(root, "d2")
	b, _ := startTestBrokerIn(t, d1, "log.dirs="+d1+","+d2)
	cluster := b.Store().ClusterID()
	b.Close()
	mine, _, _ := storage.ReadMetaProperties(nil, d2)
	for _, mp := range []storage.MetaProperties{
		{ClusterID: cluster, NodeID: mine.NodeID + 8, DirectoryID: mine.DirectoryID},
		{ClusterID: "someOtherClusterXXXXXX", NodeID: mine.NodeID, DirectoryID: mine.DirectoryID},
	} {
		if err := storage.WriteMetaProperties(nil, d2, mp); err != nil {
			t.Fatal(err)
		}
		if _, _, err := tryStartBroker(t, d1, "log.dirs="+d1+","+d2); !errors.Is(err, ErrDataDirRefused) {
			t.Fatalf("second dir with %+v: %v, want ErrDataDirRefused", mp, err)
		}
		if err := storage.WriteMetaProperties(nil, d2, mine); err != nil {
			t.Fatal(err)
		}
	}
	// A copy of the first directory's meta.properties (same directory.id).
	first, _, _ := storage.ReadMetaProperties(nil, d1)
	if err := storage.WriteMetaProperties(nil, d2, first); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tryStartBroker(t, d1, "log.dirs="+d1+","+d2); !errors.Is(err, ErrDataDirRefused) {
		t.Fatalf("two dirs with one directory.id: %v, want ErrDataDirRefused", err)
	}
}

// A log directory that cannot be opened at start-up is offline alone:
// DescribeLogDirs reports it with KAFKA_STORAGE_ERROR, its partitions are
// offline, the partitions of the other directory serve; once it is back
// everything serves with its records.
func TestLogDirOfflineAlone(t *testing.T) {
	root := t.TempDir()
	d1, d2 := filepath.Join(root, "d1"), filepath.Join(root, "d2")
	dirs := "log.dirs=" + d1 + "," + d2
	b, addr := startTestBrokerIn(t, d1, dirs)
	createTopic(t, addr, "half", 2, nil)
	where := logDirPartitions(t, describeLogDirs(t, addr))
	var inD1, inD2 int32 = -1, -1
	for p := range int32(2) {
		produceTo(t, addr, "half", p, "x")
		if where["half-"+itoa(p)] == d1 {
			inD1 = p
		} else {
			inD2 = p
		}
	}
	if inD1 < 0 || inD2 < 0 {
		t.Fatalf("placement: %v", where)
	}
	b.Close()

	// d2 is gone (its disk is away): a file stands at its path.
	if err := os.Rename(d2, d2+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d2, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, addr = startTestBrokerIn(t, d1, dirs)
	r := describeLogDirs(t, addr)
	if len(r.Dirs) != 2 || r.Dirs[0].ErrorCode != 0 || r.Dirs[1].ErrorCode != kerr.KafkaStorageError.Code || len(r.Dirs[1].Topics) != 0 {
		t.Fatalf("DescribeLogDirs with d2 offline: %+v", r.Dirs)
	}
	if err := b.hosted("half", inD2).offlineErr(); !errors.Is(err, storage.ErrLogDirOffline) {
		t.Fatalf("partition of the offline dir: %v, want ErrLogDirOffline", err)
	}
	produceTo(t, addr, "half", inD1, "y")
	if leo := b.hosted("half", inD1).log.LogEndOffset(); leo != 2 {
		t.Fatalf("partition of the online dir: LEO %d, want 2", leo)
	}
	b.Close()

	if err := os.Remove(d2); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(d2+".away", d2); err != nil {
		t.Fatal(err)
	}
	b, addr = startTestBrokerIn(t, d1, dirs)
	produceTo(t, addr, "half", inD2, "z")
	got := map[int32]int64{}
	for p := range int32(2) {
		got[p] = b.hosted("half", p).log.LogEndOffset()
	}
	if got[inD1] != 2 || got[inD2] != 2 {
		t.Fatalf("LEOs once d2 is back: %v, want 2 each", got)
	}
	keys := []string{}
	for k := range logDirPartitions(t, describeLogDirs(t, addr)) {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) < 2 {
		t.Fatalf("listed: %v", keys)
	}
}

func alterReplicaLogDirs(t *testing.T, addr, dir, topic string, partitions ...int32) map[int32]int16 {
	t.Helper()
	req := kmsg.NewPtrAlterReplicaLogDirsRequest()
	req.Version = 2
	rd := kmsg.NewAlterReplicaLogDirsRequestDir()
	rd.Dir = dir
	rt := kmsg.NewAlterReplicaLogDirsRequestDirTopic()
	rt.Topic, rt.Partitions = topic, partitions
	rd.Topics = append(rd.Topics, rt)
	req.Dirs = append(req.Dirs, rd)
	resp, err := askAddr(addr, req)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int16{}
	for _, rt := range resp.(*kmsg.AlterReplicaLogDirsResponse).Topics {
		for _, p := range rt.Partitions {
			out[p.Partition] = p.ErrorCode
		}
	}
	return out
}

// AlterReplicaLogDirs moves a replica to the other log directory while it
// is served: it answers NONE at once, DescribeLogDirs then lists the
// replica in its new directory only, every record is still read, new ones
// are appended there, and a restart finds it there. Odd requests get
// per-partition errors; ApiVersions advertises the key.
func TestAlterReplicaLogDirs(t *testing.T) {
	root := t.TempDir()
	d1, d2 := filepath.Join(root, "d1"), filepath.Join(root, "d2")
	dirs := "log.dirs=" + d1 + "," + d2
	b, addr := startTestBrokerIn(t, d1, dirs)
	createTopic(t, addr, "mv", 1, nil)
	for i := range 50 {
		produceTo(t, addr, "mv", 0, "v"+itoa(int32(i)))
	}
	from := logDirPartitions(t, describeLogDirs(t, addr))["mv-0"]
	to := d2
	if from == d2 {
		to = d1
	}
	if codes := alterReplicaLogDirs(t, addr, to, "mv", 0); codes[0] != 0 {
		t.Fatalf("AlterReplicaLogDirs: %v", codes)
	}
	deadline := time.Now().Add(20 * time.Second)
	for logDirPartitions(t, describeLogDirs(t, addr))["mv-0"] != to || len(b.logs.Moves()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("mv-0 still in %s", logDirPartitions(t, describeLogDirs(t, addr))["mv-0"])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(storage.PartitionDir(from, "mv", 0)); !os.IsNotExist(err) {
		t.Fatalf("the source directory is still there: %v", err)
	}
	produceTo(t, addr, "mv", 0, "after")
	got := readValues(t, addr, "mv", 51)
	if len(got) != 51 || got[0] != "v0" || got[49] != "v49" || got[50] != "after" {
		t.Fatalf("records after the move: %d, %v", len(got), got)
	}
	if codes := alterReplicaLogDirs(t, addr, to, "mv", 0); codes[0] != 0 {
		t.Fatalf("moving to where it is: %v", codes)
	}
	if codes := alterReplicaLogDirs(t, addr, filepath.Join(root, "nowhere"), "mv", 0); codes[0] != kerr.LogDirNotFound.Code {
		t.Fatalf("unknown dir: %v", codes)
	}
	if codes := alterReplicaLogDirs(t, addr, to, "nosuch", 0, -1); codes[0] != kerr.UnknownTopicOrPartition.Code || codes[-1] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: %v", codes)
	}
	if codes := alterReplicaLogDirs(t, addr, to, "mv", 7); codes[7] != kerr.ReplicaNotAvailable.Code {
		t.Fatalf("partition not hosted: %v", codes)
	}
	av, err := askAddr(addr, kmsg.NewPtrApiVersionsRequest())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range av.(*kmsg.ApiVersionsResponse).ApiKeys {
		if k.ApiKey == 34 {
			found = k.MinVersion == 1 && k.MaxVersion == 2
		}
	}
	if !found {
		t.Fatal("ApiVersions does not advertise AlterReplicaLogDirs v1-2")
	}
	b.Close()

	b, addr = startTestBrokerIn(t, d1, dirs)
	if d := filepath.Dir(b.hosted("mv", 0).log.Dir()); d != to {
		t.Fatalf("after a restart mv-0 is in %s, want %s", d, to)
	}
	if got := readValues(t, addr, "mv", 51); len(got) != 51 || got[50] != "after" {
		t.Fatalf("records after a restart: %v", got)
	}
}
