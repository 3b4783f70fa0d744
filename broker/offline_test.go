package broker

// Offline partitions: a log that cannot be opened, or that fails a write,
// takes its partition offline on this broker. Faults are real: the segment
// file is made immutable (chattr +i), so the kernel refuses the open or the
// write with EPERM, which needs root on a file system with inode flags.
// Each failure is one error line naming the file and the cause: retried
// requests to the offline partition add none.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// makeImmutable sets the immutable flag on path until the test ends.
func makeImmutable(t *testing.T, path string) {
	t.Helper()
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("cannot make %s immutable (chattr +i needs root and ext4/xfs): %v %s", path, err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })
}

func clearImmutable(t *testing.T, path string) {
	t.Helper()
	if out, err := exec.Command("chattr", "-i", path).CombinedOutput(); err != nil {
		t.Fatalf("chattr -i %s: %v %s", path, err, out)
	}
}

// startBrokerLog is startTestBrokerIn with the broker's JSON log written to
// logs.
func startBrokerLog(t *testing.T, dir string, logs *lockedBuffer) (*Broker, string) {
	t.Helper()
	b, addr, err := tryStartBrokerLog(t, dir, logs)
	if err != nil {
		t.Fatal(err)
	}
	return b, addr
}

// partitionErrorLines returns the error-level lines of logs about
// partition 0 of topic in dir: those whose topic and partition fields name
// it, or that name its directory.
func partitionErrorLines(t *testing.T, logs *lockedBuffer, dir, topic string) []string {
	t.Helper()
	pdir := filepath.Join(dir, topic+"-0")
	var out []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if l == "" {
			continue
		}
		var f struct {
			Level     string `json:"level"`
			Topic     string `json:"topic"`
			Partition *int32 `json:"partition"`
		}
		if err := json.Unmarshal([]byte(l), &f); err != nil {
			t.Fatalf("log line not JSON: %v: %s", err, l)
		}
		if f.Level != "error" {
			continue
		}
		if (f.Topic == topic && f.Partition != nil && *f.Partition == 0) || strings.Contains(l, pdir) {
			out = append(out, l)
		}
	}
	return out
}

// wantOneFailureLine asserts that logs hold exactly one error line about
// partition 0 of topic, and that it names file and cause.
func wantOneFailureLine(t *testing.T, logs *lockedBuffer, dir, topic, file, cause string) {
	t.Helper()
	lines := partitionErrorLines(t, logs, dir, topic)
	if len(lines) != 1 {
		t.Fatalf("%d error lines about %s-0, want exactly 1:\n%s", len(lines), topic, strings.Join(lines, "\n"))
	}
	if !strings.Contains(lines[0], file) || !strings.Contains(lines[0], cause) {
		t.Fatalf("the error line about %s-0 does not name the file %s and the cause %q:\n%s", topic, file, cause, lines[0])
	}
}

// wantNoErrorLine asserts that logs hold no error line about partition 0
// of topic.
func wantNoErrorLine(t *testing.T, logs *lockedBuffer, dir, topic string) {
	t.Helper()
	if lines := partitionErrorLines(t, logs, dir, topic); len(lines) > 0 {
		t.Fatalf("error lines about %s-0 once it is healthy:\n%s", topic, strings.Join(lines, "\n"))
	}
}

// partitionErrors asks Metadata, Produce (v9), Fetch (v12) and ListOffsets
// about partition 0 of topic and returns their error codes, the Metadata
// leader and offline replicas, and the Produce error message.
type partitionView struct {
	metaErr, produceErr, fetchErr, listErr int16
	leader                                 int32
	offline                                []int32
	produceMsg                             string
}

func viewPartition(t *testing.T, addr, topic string) partitionView {
	t.Helper()
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(kmsg.Produce.Int16(), 9)
	vs.SetMaxKeyVersion(kmsg.Fetch.Int16(), 12)
	cl := newClient(t, addr, kgo.MaxVersions(vs))
	ctx := testCtx(t)
	var v partitionView

	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, cl)
	if err != nil || len(mresp.Topics) != 1 || len(mresp.Topics[0].Partitions) == 0 {
		t.Fatalf("metadata: %v %+v", err, mresp)
	}
	mp := mresp.Topics[0].Partitions[0]
	v.metaErr, v.leader, v.offline = mp.ErrorCode, mp.Leader, mp.OfflineReplicas

	batch := testBatch(-1, -1, -1, 1)
	preq := kmsg.NewPtrProduceRequest()
	preq.Version = 9
	preq.Acks = -1
	preq.TimeoutMillis = 5000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = topic
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = batch
	pt.Partitions = append(pt.Partitions, pp)
	preq.Topics = append(preq.Topics, pt)
	presp, err := cl.Broker(1).Request(ctx, preq)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	ppr := presp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	v.produceErr = ppr.ErrorCode
	if ppr.ErrorMessage != nil {
		v.produceMsg = *ppr.ErrorMessage
	}

	freq := kmsg.NewPtrFetchRequest()
	freq.Version = 12
	freq.MaxWaitMillis = 10
	freq.MaxBytes = 1 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	fp.CurrentLeaderEpoch = -1
	ft.Partitions = append(ft.Partitions, fp)
	freq.Topics = append(freq.Topics, ft)
	fresp, err := cl.Broker(1).Request(ctx, freq)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	v.fetchErr = fresp.(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode

	lreq := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Timestamp = -1
	lp.CurrentLeaderEpoch = -1
	lt.Partitions = append(lt.Partitions, lp)
	lreq.Topics = append(lreq.Topics, lt)
	lresp, err := cl.Broker(1).Request(ctx, lreq)
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	v.listErr = lresp.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0].ErrorCode
	return v
}

func wantOffline(t *testing.T, v partitionView, topic string) {
	t.Helper()
	if v.metaErr != kerr.LeaderNotAvailable.Code || v.leader != -1 || len(v.offline) != 1 || v.offline[0] != 1 {
		t.Errorf("metadata: error %d leader %d offline %v; want LEADER_NOT_AVAILABLE, no leader, offline [1]",
			v.metaErr, v.leader, v.offline)
	}
	if v.produceErr != kerr.KafkaStorageError.Code || !strings.Contains(v.produceMsg, topic+"-0") {
		t.Errorf("produce: error %d %q; want KAFKA_STORAGE_ERROR naming %s-0", v.produceErr, v.produceMsg, topic)
	}
	if v.fetchErr != kerr.KafkaStorageError.Code {
		t.Errorf("fetch: error %d; want KAFKA_STORAGE_ERROR", v.fetchErr)
	}
	if v.listErr != kerr.KafkaStorageError.Code {
		t.Errorf("list offsets: error %d; want KAFKA_STORAGE_ERROR", v.listErr)
	}
}

func TestLogThatFailsToOpenIsOffline(t *testing.T) {
	dir := t.TempDir()
	b, addr := startTestBrokerIn(t, dir)
	createTopic(t, addr, "sick", 1, nil)
	createTopic(t, addr, "well", 1, nil)
	produceRecords(t, addr, "sick", "s1", "s2")
	produceRecords(t, addr, "well", "w1")
	id := b.Store().Snapshot().Topic("sick").Info.ID
	b.Close()

	seg := filepath.Join(dir, "sick-0", "00000000000000000000.log")
	before, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	makeImmutable(t, seg) // the open for writing fails with EPERM
	var logs lockedBuffer
	b, addr = startBrokerLog(t, dir, &logs)
	wantOffline(t, viewPartition(t, addr, "sick"), "sick")
	wantOffline(t, viewPartition(t, addr, "sick"), "sick")
	if got := readValues(t, addr, "well", 1); got[0] != "w1" {
		t.Fatalf("the healthy topic: %v", got)
	}
	waitFor(t, "offline replica published in etcd", func() bool {
		return b.Store().Snapshot().ReplicaOffline(1, id, 0)
	})
	b.Close()
	wantOneFailureLine(t, &logs, dir, "sick", seg, syscall.EPERM.Error())
	wantNoErrorLine(t, &logs, dir, "well")
	if after, _ := os.ReadFile(seg); string(after) != string(before) {
		t.Fatal("the segment of the offline partition changed")
	}

	// Once the file can be opened again, the partition serves its data.
	clearImmutable(t, seg)
	var healed lockedBuffer
	b, addr = startBrokerLog(t, dir, &healed)
	if got := readValues(t, addr, "sick", 2); strings.Join(got, ",") != "s1,s2" {
		t.Fatalf("records after recovery: %v", got)
	}
	waitFor(t, "offline replica cleared in etcd", func() bool {
		return !b.Store().Snapshot().ReplicaOffline(1, id, 0)
	})
	wantNoErrorLine(t, &healed, dir, "sick")
}

func TestWriteErrorTakesPartitionOffline(t *testing.T) {
	dir := t.TempDir()
	var logs lockedBuffer
	b, addr := startBrokerLog(t, dir, &logs)
	createTopic(t, addr, "w", 1, nil)
	produceRecords(t, addr, "w", "before")
	seg := filepath.Join(dir, "w-0", "00000000000000000000.log")
	makeImmutable(t, seg) // the next pwrite fails
	v := viewPartition(t, addr, "w")
	// viewPartition's produce met the write error itself: KAFKA_STORAGE_ERROR.
	if v.produceErr != kerr.KafkaStorageError.Code {
		t.Fatalf("produce into a failing file: error %d, want KAFKA_STORAGE_ERROR", v.produceErr)
	}
	wantOffline(t, viewPartition(t, addr, "w"), "w")
	id := b.Store().Snapshot().Topic("w").Info.ID
	waitFor(t, "offline replica published in etcd", func() bool {
		return b.Store().Snapshot().ReplicaOffline(1, id, 0)
	})
	// Even once the disk takes writes again, the log stays failed in this
	// process: the batch whose append failed never shows up.
	clearImmutable(t, seg)
	if v := viewPartition(t, addr, "w"); v.fetchErr != kerr.KafkaStorageError.Code {
		t.Fatalf("fetch after the disk recovered, same process: %d, want KAFKA_STORAGE_ERROR", v.fetchErr)
	}
	b.Close()
	// The failed write is one line, however many requests met the failed
	// log after it.
	wantOneFailureLine(t, &logs, dir, "w", seg, syscall.EPERM.Error())
	var healed lockedBuffer
	b, addr = startBrokerLog(t, dir, &healed)
	if got := readValues(t, addr, "w", 1); len(got) != 1 || got[0] != "before" {
		t.Fatalf("after restart: %v", got)
	}
	if leo := b.partition("w", 0).log.LogEndOffset(); leo != 1 {
		t.Fatalf("log end offset after restart %d: the failed batch must not be there", leo)
	}
	wantNoErrorLine(t, &healed, dir, "w")
}

// An unparsable checkpoint (a file corrupted on disk) leaves the partition
// offline with its files as they were; repaired, it serves again.
func TestUnparsableCheckpointIsOffline(t *testing.T) {
	dir := t.TempDir()
	b, addr := startTestBrokerIn(t, dir)
	createTopic(t, addr, "cp", 1, nil)
	produceRecords(t, addr, "cp", "a", "b")
	b.Close()
	cp := filepath.Join(dir, "cp-0", "samsa-checkpoint")
	good, err := os.ReadFile(cp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cp, []byte("garbage\x00\x01"), 0o644); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, "cp-0", "00000000000000000000.log")
	segBefore, _ := os.ReadFile(seg)
	var logs lockedBuffer
	b, addr = startBrokerLog(t, dir, &logs)
	wantOffline(t, viewPartition(t, addr, "cp"), "cp")
	wantOffline(t, viewPartition(t, addr, "cp"), "cp")
	b.Close()
	wantOneFailureLine(t, &logs, dir, "cp", cp, "malformed")
	if after, _ := os.ReadFile(cp); string(after) != "garbage\x00\x01" {
		t.Fatal("the unparsable checkpoint was rewritten")
	}
	if after, _ := os.ReadFile(seg); string(after) != string(segBefore) {
		t.Fatal("the segment changed")
	}
	os.WriteFile(cp, good, 0o644)
	var healed lockedBuffer
	_, addr = startBrokerLog(t, dir, &healed)
	if got := readValues(t, addr, "cp", 2); strings.Join(got, ",") != "a,b" {
		t.Fatalf("records after the repair: %v", got)
	}
	wantNoErrorLine(t, &healed, dir, "cp")
}
