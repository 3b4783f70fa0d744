package broker

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/protocol"
)

// mountSmallFS mounts a tmpfs of size bytes on a new directory, unmounted
// when the test ends (after the broker closed: cleanups run last first).
// It skips the test where the process may not mount (not root): the
// storage tests cover the same rule through the file-system seam
// (storage/nospace_test.go).
func mountSmallFS(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if os.Getuid() != 0 {
		t.Skip("not root: cannot mount a size-limited file system (storage/nospace_test.go covers ENOSPC through the FS seam)")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a size-limited tmpfs: %v: %s (storage/nospace_test.go covers ENOSPC through the FS seam)", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// bigBatch is one uncompressed batch of n records of size bytes each.
func bigBatch(t *testing.T, n, size int, fill byte) []byte {
	t.Helper()
	var plain []byte
	for i := 0; i < n; i++ {
		plain = protocol.AppendRecord(plain, &protocol.Record{OffsetDelta: int32(i), Value: bytes.Repeat([]byte{fill}, size)})
	}
	h := protocol.BatchHeader{LastOffsetDelta: int32(n - 1), BaseTimestamp: 1_700_000_000_000, MaxTimestamp: 1_700_000_000_000,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
	b, _, err := protocol.AppendBatch(nil, &h, protocol.CompressionNone, 0, plain, int32(n))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDiskFullOnARealFileSystem fills a real, size-limited file system
// (a tmpfs) with produced records: the produce that finds no space gets
// KAFKA_STORAGE_ERROR, nothing half-written becomes visible, the partition
// stays online (consumers read every acknowledged record), and once space
// comes back the next produce is written at the next offset, without a
// restart.
func TestDiskFullOnARealFileSystem(t *testing.T) {
	dir := mountSmallFS(t, "3m")
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	endpoint, _ := externalEtcd(t) // etcd elsewhere: only the log fills the disk
	b, addr := startTestBrokerIn(t, dir, "etcd.endpoints="+endpoint)
	createTopic(t, addr, "full", 1, nil)
	acked := 0
	var refused kerr.Error
	for i := 0; i < 200; i++ {
		sp := produceRaw(t, addr, "full", bigBatch(t, 8, 8<<10, byte('a'+i%26)))
		if sp.ErrorCode != 0 {
			refused = *kerr.ErrorForCode(sp.ErrorCode).(*kerr.Error)
			if sp.ErrorMessage == nil || !bytes.Contains([]byte(*sp.ErrorMessage), []byte("no space left")) {
				t.Fatalf("refused produce without the reason: %v %v", refused.Message, sp.ErrorMessage)
			}
			break
		}
		if sp.BaseOffset != int64(acked) {
			t.Fatalf("produce %d at offset %d, want %d", i, sp.BaseOffset, acked)
		}
		acked += 8
	}
	if refused.Code != kerr.KafkaStorageError.Code {
		t.Fatalf("3 MiB filled with no KAFKA_STORAGE_ERROR (refused %v, %d records acknowledged)", refused.Message, acked)
	}
	p := b.hosted("full", 0)
	if err := p.offlineErr(); err != nil || b.partition("full", 0) == nil {
		t.Fatalf("the partition went offline on a full disk: %v", err)
	}
	if l := b.logs.Get("full", 0); l.LogEndOffset() != int64(acked) {
		t.Fatalf("log end offset %d, want the %d acknowledged records", l.LogEndOffset(), acked)
	}
	got := consumeN(t, addr, "full", acked)
	for i, r := range got[:acked] {
		if r.Offset != int64(i) || len(r.Value) != 8<<10 {
			t.Fatalf("record %d: offset %d, %d bytes", i, r.Offset, len(r.Value))
		}
	}
	// Space comes back: the next produce lands at the next offset.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	sp := produceRaw(t, addr, "full", bigBatch(t, 8, 8<<10, 'z'))
	if sp.ErrorCode != 0 || sp.BaseOffset != int64(acked) {
		t.Fatalf("produce once there is space: %v at %d, want offset %d", kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset, acked)
	}
	cl := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"full": {0: kgo.NewOffset().At(int64(acked))}}))
	fs := cl.PollFetches(testCtx(t))
	if rs := fs.Records(); len(rs) == 0 || rs[0].Offset != int64(acked) || rs[0].Value[0] != 'z' {
		t.Fatalf("the record produced after space came back is not read at %d", acked)
	}
}
