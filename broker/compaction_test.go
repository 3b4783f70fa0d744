package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/storage"
)

// compactedWrite is what was produced at an offset.
type compactedWrite struct {
	key   string
	value []byte // nil: tombstone
}

// checkCompacted reads the whole partition and asserts the compaction
// contract: every record is the one produced at its offset; below
// cleanedTo each key appears once, at its latest offset below cleanedTo;
// from cleanedTo on, everything produced is there.
func checkCompacted(t *testing.T, addr, topic string, written map[int64]compactedWrite, last, cleanedTo int64) {
	t.Helper()
	latest := map[string]int64{}
	for off, w := range written {
		if off < cleanedTo && off >= latest[w.key] {
			latest[w.key] = off
		}
	}
	want := map[int64]bool{}
	for _, off := range latest {
		want[off] = true
	}
	for off := range written {
		if off >= cleanedTo {
			want[off] = true
		}
	}
	cl := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	ctx := testCtx(t)
	got := 0
	for done := false; !done; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d records, not up to offset %d, before the timeout", got, last)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		for _, r := range fs.Records() {
			w, ok := written[r.Offset]
			if !ok || w.key != string(r.Key) || (w.value == nil) != (r.Value == nil) || string(w.value) != string(r.Value) {
				t.Fatalf("offset %d: read key %q value %q, produced %+v", r.Offset, r.Key, r.Value, w)
			}
			if !want[r.Offset] {
				t.Fatalf("offset %d (key %s) is below the cleaned offset %d but its key's latest is %d", r.Offset, r.Key, cleanedTo, latest[w.key])
			}
			delete(want, r.Offset)
			got++
			done = done || r.Offset == last
		}
	}
	if len(want) > 0 {
		t.Fatalf("%d records that must survive were not read (cleaned to %d)", len(want), cleanedTo)
	}
}

// TestCompactedTopicSchemaRegistryPattern uses a compacted topic as Schema
// Registry's _schemas (one partition) and Connect's internal topics are
// used: many versions per key, tombstones, compressed batches, restarts and
// cleanings in between. The broker's own cleaner compacts it; after each
// cleaning a full read returns the latest value per key below the cleaned
// offset and everything after, at the offsets they were produced at.
func TestCompactedTopicSchemaRegistryPattern(t *testing.T) {
	dir := t.TempDir()
	props := []string{"log.cleaner.backoff.ms=20"}
	b, addr := startTestBrokerIn(t, dir, props...)
	const topic = "_schemas"
	createTopic(t, addr, topic, 1, map[string]*string{
		"cleanup.policy":            sp("compact"),
		"internal.segment.bytes":    sp("4096"),
		"min.cleanable.dirty.ratio": sp("0.01"),
	})
	written := map[int64]compactedWrite{}
	var last int64
	produce := func(round int) {
		cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerBatchCompression([]kgo.CompressionCodec{kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression(), kgo.NoCompression()}[round%4]))
		for i := 0; i < 300; i++ {
			k := fmt.Sprintf("subject-%02d", (i*7)%37)
			var v []byte
			if i%11 != 5 {
				v = []byte(fmt.Sprintf(`{"subject":%q,"version":%d,"round":%d}`, k, i, round))
			}
			r := &kgo.Record{Topic: topic, Partition: 0, Key: []byte(k), Value: v}
			if err := cl.ProduceSync(testCtx(t), r).FirstErr(); err != nil {
				t.Fatal(err)
			}
			written[r.Offset] = compactedWrite{key: k, value: v}
			last = r.Offset
		}
	}
	waitCleaned := func(b *Broker) int64 {
		t.Helper()
		l := b.logs.Get(topic, 0)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			// Everything below the active segment cleaned: the segment
			// holding the last record.
			if up := l.CleanedUpTo(); up > 0 && up >= activeBase(l) {
				return up
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("not cleaned up to the active segment (%d) in time: cleaned to %d", activeBase(l), l.CleanedUpTo())
		return 0
	}
	for round := 0; round < 3; round++ {
		produce(round)
		cleaned := waitCleaned(b)
		if tot := b.logs.CleanerTotals(); tot.Superseded == 0 {
			t.Fatalf("round %d: the cleaner removed nothing: %+v", round, tot)
		}
		checkCompacted(t, addr, topic, written, last, cleaned)
		b.Close()
		b, addr = startTestBrokerIn(t, dir, props...)
		checkCompacted(t, addr, topic, written, last, cleaned)
	}
}

// activeBase is the base offset of the log's active segment.
func activeBase(l *storage.Log) int64 { return l.ActiveSegmentBase() }
