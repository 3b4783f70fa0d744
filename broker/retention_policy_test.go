package broker

// Retention follows cleanup.policy, end to end: time and size retention
// delete segments only of a topic whose policy includes delete; a
// compact-only topic keeps its data, whatever its retention.ms and
// retention.bytes say. (The storage side: storage/retention_test.go.)

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestRetentionFollowsCleanupPolicy(t *testing.T) {
	const interval = 50 * time.Millisecond
	b, addr := startTestBroker(t,
		fmt.Sprintf("log.retention.check.interval.ms=%d", interval.Milliseconds()),
		"log.cleaner.backoff.ms=20")

	// One topic per policy and kind of retention, each with 4 KiB segments
	// and a retention that every rolled segment breaches at once.
	type topic struct {
		name, policy string
		deletes      bool // the policy includes delete
	}
	var topics []topic
	for _, r := range []struct{ kind, key, value string }{
		{"time", "retention.ms", "1"},
		{"size", "retention.bytes", "1"},
	} {
		for _, p := range []struct {
			policy  string
			deletes bool
		}{{"delete", true}, {"compact", false}, {"compact,delete", true}} {
			tp := topic{name: r.kind + "-" + strings.ReplaceAll(p.policy, ",", "-"), policy: p.policy, deletes: p.deletes}
			createTopic(t, addr, tp.name, 1, map[string]*string{
				"cleanup.policy":         sp(p.policy),
				"internal.segment.bytes": sp("4096"),
				r.key:                    sp(r.value),
			})
			topics = append(topics, tp)
		}
	}

	// Distinct keys: the cleaner, running on the compacted topics, has no
	// record to remove, so every record read back is there.
	const n = 80
	value := strings.Repeat("v", 200)
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for _, tp := range topics {
		for i := 0; i < n; i++ {
			r := &kgo.Record{Topic: tp.name, Partition: 0, Key: []byte(fmt.Sprintf("k%03d", i)), Value: []byte(fmt.Sprintf("%s-%03d", value, i))}
			if err := cl.ProduceSync(testCtx(t), r).FirstErr(); err != nil {
				t.Fatalf("produce to %s: %v", tp.name, err)
			}
		}
		if segs := b.logs.Get(tp.name, 0).ActiveSegmentBase(); segs == 0 {
			t.Fatalf("%s: %d records did not roll a segment", tp.name, n)
		}
	}

	adm := kadm.NewClient(newClient(t, addr))
	names := make([]string, len(topics))
	for i, tp := range topics {
		names[i] = tp.name
	}
	starts := func() map[string]int64 {
		t.Helper()
		lo, err := adm.ListStartOffsets(testCtx(t), names...)
		if err != nil {
			t.Fatalf("list start offsets: %v", err)
		}
		out := map[string]int64{}
		for _, tp := range topics {
			o, ok := lo.Lookup(tp.name, 0)
			if !ok || o.Err != nil {
				t.Fatalf("list start offset of %s-0: %v %+v", tp.name, ok, o)
			}
			out[tp.name] = o.Offset
		}
		return out
	}
	waitFor(t, "retention to delete the segments of the topics whose policy includes delete", func() bool {
		s := starts()
		for _, tp := range topics {
			if tp.deletes && s[tp.name] == 0 {
				return false
			}
		}
		return true
	})
	// Retention has run on every log; let it run several times more.
	time.Sleep(10 * interval)

	s := starts()
	for _, tp := range topics {
		if tp.deletes {
			continue
		}
		if s[tp.name] != 0 {
			t.Errorf("%s (cleanup.policy=%s): log start offset %d, want 0", tp.name, tp.policy, s[tp.name])
			continue
		}
		recs := consumeN(t, addr, tp.name, n)
		if len(recs) != n {
			t.Errorf("%s: read %d records, want %d", tp.name, len(recs), n)
			continue
		}
		for i, r := range recs {
			if r.Offset != int64(i) || string(r.Key) != fmt.Sprintf("k%03d", i) || string(r.Value) != fmt.Sprintf("%s-%03d", value, i) {
				t.Errorf("%s: record %d is offset %d key %q, want offset %d key k%03d", tp.name, i, r.Offset, r.Key, i, i)
				break
			}
		}
	}
}
