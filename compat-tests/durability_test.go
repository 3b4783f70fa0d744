package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ackedRecord is one produced record as sent, plus where the broker's ack
// said it landed.
type ackedRecord struct {
	seq       int // produce order
	key       []byte
	value     []byte
	headers   []kgo.RecordHeader
	tsMillis  int64
	partition int32
	offset    int64
	err       error
}

// TestKill9Durability: every record acknowledged with acks=all survives a
// SIGKILL of the broker, at exactly the partition and offset the ack named,
// byte for byte.
func TestKill9Durability(t *testing.T) {
	const (
		topic      = "durability"
		partitions = 3
		numRecords = 20_000
		numKeys    = 500
	)
	s := StartSamsa(t)
	t.Logf("samsa listening on %s after %v", s.Addr, s.StartupTime)

	createTopic(t, s.Addr, topic, partitions)
	acked := produceRecords(t, s.Addr, topic, numRecords, numKeys, 1)
	t.Logf("produced and acknowledged %d records", len(acked))

	s.Kill9()
	s.Restart()
	t.Logf("restarted after SIGKILL in %v", s.StartupTime)

	consumed := consumeAll(t, s.Addr, topic, partitions, countPerPartition(acked), 60*time.Second)
	verifyRecords(t, acked, consumed)
	checkEndOffsets(t, s.Addr, topic, acked)
}

// TestSIGTERMCleanShutdown: SIGTERM makes samsa exit 0 within 10 s, and the
// next start finds nothing to truncate and serves every record written
// before.
func TestSIGTERMCleanShutdown(t *testing.T) {
	const (
		topic      = "clean-shutdown"
		partitions = 2
		numRecords = 2_000
		numKeys    = 100
	)
	// Debug level: storage then logs, per partition log, whether it found
	// a clean shutdown ("log loaded", clean=true|false).
	s := StartSamsa(t, "--log-level", "debug")
	createTopic(t, s.Addr, topic, partitions)
	acked := produceRecords(t, s.Addr, topic, numRecords, numKeys, 2)

	took, err := s.Stop(10 * time.Second)
	if err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	t.Logf("exited with status 0 %v after SIGTERM", took)

	s.Restart()
	if trunc := logLinesMatching(s.Lines(), "truncat"); len(trunc) > 0 {
		t.Errorf("after a clean shutdown the restarted broker logged truncation:\n%s", joinLines(trunc, 20))
	}
	loaded, unclean := 0, 0
	for _, m := range jsonLines(s.Lines()) {
		if m["message"] != "log loaded" {
			continue
		}
		if clean, ok := m["clean"].(bool); ok {
			loaded++
			if !clean {
				unclean++
				t.Errorf("after SIGTERM a partition log was loaded as unclean: %v", m)
			}
		}
	}
	t.Logf("restart: %d partition logs loaded, %d unclean", loaded, unclean)
	consumed := consumeAll(t, s.Addr, topic, partitions, countPerPartition(acked), 60*time.Second)
	verifyRecords(t, acked, consumed)
	checkEndOffsets(t, s.Addr, topic, acked)

	if _, err := s.Stop(10 * time.Second); err != nil {
		t.Errorf("second SIGTERM: %v", err)
	}
}

// TestStartupTime is informational: it logs how long samsa takes from exec
// to its listening line, on a fresh data dir and on a restart, and asserts
// only that it started.
func TestStartupTime(t *testing.T) {
	s := StartSamsa(t)
	t.Logf("startup (fresh data dir): %v", s.StartupTime)
	s.Restart()
	t.Logf("startup (restart after SIGTERM): %v", s.StartupTime)
	if !s.Running() {
		t.Fatalf("samsa is not running after restart")
	}
}

func newAdmin(t testing.TB, addr string) (*kadm.Client, *kgo.Client) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	return kadm.NewClient(cl), cl
}

func createTopic(t testing.TB, addr, topic string, partitions int32) {
	t.Helper()
	adm, cl := newAdmin(t, addr)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err != nil {
		t.Fatalf("CreateTopic %s: %v (%+v)", topic, err, resp)
	}
	if resp.NumPartitions != -1 && resp.NumPartitions != partitions {
		t.Fatalf("CreateTopic %s: created %d partitions, asked for %d", topic, resp.NumPartitions, partitions)
	}
}

// produceRecords produces n keyed records (keys "key-0".."key-<numKeys-1>",
// repeating) with 1–3 headers and explicit timestamps, idempotently with
// acks=all through the default partitioner, and waits for every ack. It
// fails the test unless every record was acknowledged.
func produceRecords(t testing.TB, addr, topic string, n, numKeys int, seed int64) []*ackedRecord {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DefaultProduceTopic(topic),
		// No RecordDeliveryTimeout: kgo measures it from the record's
		// timestamp, and ours are an hour old. The context bounds the run.
	)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	defer cl.Close()

	rng := rand.New(rand.NewSource(seed))
	base := time.Now().Add(-time.Hour).UnixMilli()
	recs := make([]*ackedRecord, n)
	for i := range recs {
		value := make([]byte, 16+rng.Intn(300))
		rng.Read(value)
		copy(value, fmt.Sprintf("v%07d|", i))
		nh := 1 + rng.Intn(3)
		headers := make([]kgo.RecordHeader, nh)
		for h := range headers {
			hv := make([]byte, rng.Intn(24))
			rng.Read(hv)
			headers[h] = kgo.RecordHeader{Key: fmt.Sprintf("h%d-%d", h, rng.Intn(5)), Value: hv}
		}
		recs[i] = &ackedRecord{
			seq:       i,
			key:       []byte(fmt.Sprintf("key-%d", rng.Intn(numKeys))),
			value:     value,
			headers:   headers,
			tsMillis:  base + int64(i)*3 + int64(rng.Intn(3)),
			partition: -1,
			offset:    -1,
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var (
		mu     sync.Mutex
		failed int
		first  error
	)
	for _, ar := range recs {
		r := &kgo.Record{
			Key:       ar.key,
			Value:     ar.value,
			Headers:   ar.headers,
			Timestamp: time.UnixMilli(ar.tsMillis),
		}
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			ar.err = err
			if err != nil {
				failed++
				if first == nil {
					first = err
				}
				return
			}
			ar.partition, ar.offset = r.Partition, r.Offset
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if failed > 0 {
		t.Fatalf("%d of %d produces failed; first error: %v", failed, n, first)
	}
	return recs
}

func countPerPartition(acked []*ackedRecord) map[int32]int {
	m := make(map[int32]int)
	for _, ar := range acked {
		m[ar.partition]++
	}
	return m
}

// consumeAll reads every partition of topic from the start with a fresh
// client (no group) until want[p] records were read from each partition p,
// or the timeout passes.
func consumeAll(t testing.TB, addr, topic string, partitions int32, want map[int32]int, timeout time.Duration) map[int32][]*kgo.Record {
	t.Helper()
	offsets := make(map[int32]kgo.Offset, partitions)
	for p := int32(0); p < partitions; p++ {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	defer cl.Close()

	total := 0
	for _, n := range want {
		total += n
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	got := make(map[int32][]*kgo.Record)
	read := 0
	fetchErrs := 0
	for read < total {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fetches.EachError(func(tp string, p int32, err error) {
			fetchErrs++
			if fetchErrs <= 10 {
				t.Logf("fetch error %s/%d: %v", tp, p, err)
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], r)
			read++
		})
	}
	if read < total {
		per := make(map[int32]int)
		for p, rs := range got {
			per[p] = len(rs)
		}
		t.Fatalf("consumed %d of %d records within %v (per partition: got %v, want %v)", read, total, timeout, per, want)
	}
	return got
}

// verifyRecords checks the consumed records against the acks: every acked
// record at exactly its acked partition and offset, nothing else, offsets in
// order, keys/values/headers/timestamps identical, each key in one partition.
func verifyRecords(t testing.TB, acked []*ackedRecord, consumed map[int32][]*kgo.Record) {
	t.Helper()
	const maxReports = 25
	reports := 0
	report := func(format string, args ...any) {
		t.Helper()
		reports++
		if reports <= maxReports {
			t.Errorf(format, args...)
		}
	}
	defer func() {
		if reports > maxReports {
			t.Errorf("... and %d more mismatches", reports-maxReports)
		}
	}()

	type pos struct {
		p int32
		o int64
	}
	byPos := make(map[pos]*ackedRecord, len(acked))
	keyPart := make(map[string]int32)
	for _, ar := range acked {
		at := pos{ar.partition, ar.offset}
		if other, dup := byPos[at]; dup {
			report("records #%d and #%d were both acked at partition %d offset %d", other.seq, ar.seq, ar.partition, ar.offset)
		}
		byPos[at] = ar
		if p, ok := keyPart[string(ar.key)]; ok && p != ar.partition {
			report("key %q acked in partitions %d and %d", ar.key, p, ar.partition)
		}
		keyPart[string(ar.key)] = ar.partition
	}

	// Produce order within a partition must be offset order.
	perPart := make(map[int32][]*ackedRecord)
	for _, ar := range acked {
		perPart[ar.partition] = append(perPart[ar.partition], ar)
	}
	for p, ars := range perPart {
		for i := 1; i < len(ars); i++ {
			if ars[i].offset <= ars[i-1].offset {
				report("partition %d: record #%d acked at offset %d after #%d at offset %d", p, ars[i].seq, ars[i].offset, ars[i-1].seq, ars[i-1].offset)
			}
		}
	}

	seen := make(map[pos]bool, len(acked))
	parts := make([]int32, 0, len(consumed))
	for p := range consumed {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	for _, p := range parts {
		prev := int64(-1)
		for _, r := range consumed[p] {
			if r.Offset <= prev {
				report("partition %d: consumed offset %d after offset %d", p, r.Offset, prev)
			}
			prev = r.Offset
			at := pos{p, r.Offset}
			ar, ok := byPos[at]
			if !ok {
				report("partition %d offset %d: unexpected record (key %q), no ack named this position", p, r.Offset, r.Key)
				continue
			}
			if seen[at] {
				report("partition %d offset %d consumed twice", p, r.Offset)
			}
			seen[at] = true
			if !bytes.Equal(r.Key, ar.key) {
				report("partition %d offset %d (#%d): key %q, want %q", p, r.Offset, ar.seq, r.Key, ar.key)
			}
			if !bytes.Equal(r.Value, ar.value) {
				report("partition %d offset %d (#%d): value differs (%d bytes, want %d)", p, r.Offset, ar.seq, len(r.Value), len(ar.value))
			}
			if got := r.Timestamp.UnixMilli(); got != ar.tsMillis {
				report("partition %d offset %d (#%d): timestamp %d, want %d", p, r.Offset, ar.seq, got, ar.tsMillis)
			}
			if !headersEqual(r.Headers, ar.headers) {
				report("partition %d offset %d (#%d): headers %v, want %v", p, r.Offset, ar.seq, r.Headers, ar.headers)
			}
			if kp, ok := keyPart[string(r.Key)]; ok && kp != p {
				report("key %q consumed from partition %d, acked in %d", r.Key, p, kp)
			}
		}
	}
	for _, ar := range acked {
		if !seen[pos{ar.partition, ar.offset}] {
			report("record #%d (key %q) acked at partition %d offset %d is missing", ar.seq, ar.key, ar.partition, ar.offset)
		}
	}
}

func headersEqual(a, b []kgo.RecordHeader) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

// checkEndOffsets: each partition's end offset is one past the last acked
// offset (no records beyond the acked ones).
func checkEndOffsets(t testing.TB, addr, topic string, acked []*ackedRecord) {
	t.Helper()
	want := make(map[int32]int64)
	for _, ar := range acked {
		if ar.offset+1 > want[ar.partition] {
			want[ar.partition] = ar.offset + 1
		}
	}
	adm, cl := newAdmin(t, addr)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Errorf("ListEndOffsets: %v", err)
		return
	}
	for p, w := range want {
		lo, ok := ends.Lookup(topic, p)
		if !ok {
			t.Errorf("ListEndOffsets: no answer for partition %d", p)
			continue
		}
		if lo.Err != nil {
			t.Errorf("ListEndOffsets partition %d: %v", p, lo.Err)
			continue
		}
		if lo.Offset != w {
			t.Errorf("partition %d: end offset %d, want %d (last acked offset + 1)", p, lo.Offset, w)
		}
	}
}

// jsonLines decodes the JSON log lines (others are skipped).
func jsonLines(lines []string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func joinLines(lines []string, max int) string {
	var b bytes.Buffer
	for i, l := range lines {
		if i == max {
			fmt.Fprintf(&b, "... (%d more)\n", len(lines)-max)
			break
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}
